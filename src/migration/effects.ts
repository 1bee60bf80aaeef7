/**
 * What a migration statement did to the data, for the deploy's report: the command tag of statements that
 * change rows (`DELETE 1234`, `UPDATE 5`, from node-postgres' `command`/`rowCount`), and for statements that
 * drop or empty tables (DROP TABLE, DROP SCHEMA, TRUNCATE, with CASCADE) the rows those tables held, counted
 * just before the statement ran, in the same transaction.
 */
import type { Node } from 'libpg-query';
import type pg from 'pg';
import type { Client } from '../db/connect.js';
import { qualify, quoteIdent } from '../db/sql.js';

/** A table a statement dropped or emptied, and how many rows it held. */
export interface RemovedRows {
  readonly table: string;
  readonly rows: number;
}

/** The data effect of one statement. */
export interface StatementEffect {
  /** 1-based line of the statement in its file. */
  readonly line: number;
  /** The command tag as psql prints it for row changes ('DELETE 1234'), else the statement ('TRUNCATE'). */
  readonly command: string;
  /** Rows inserted, updated, deleted or merged (from the command tag). */
  readonly rows?: number;
  /** Tables dropped or emptied, with their row counts before the statement. */
  readonly removed?: readonly RemovedRows[];
}

const ROW_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

interface TableRow {
  readonly schema: string;
  readonly name: string;
  /** Count without descendants (TRUNCATE ONLY, or a plain table listed with its schema). */
  readonly only: boolean;
}

const strings = (nodes: Node[] | undefined): string[] =>
  (nodes ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));

/** Resolves names as the statement would (same search_path); missing ones are left out. */
async function resolve(
  client: Client,
  names: readonly string[],
  only: boolean,
): Promise<(TableRow & { oid: number })[]> {
  const { rows } = await client.query<{ oid: number; schema: string; name: string }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as name
       from unnest($1::text[]) as w(name) join pg_class c on c.oid = to_regclass(w.name)
       join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p')`,
    [names],
  );
  return rows.map((r) => ({ ...r, only }));
}

/** Tables that reference `oids` through foreign keys, transitively (what TRUNCATE … CASCADE also empties). */
async function referencing(client: Client, oids: readonly number[]): Promise<TableRow[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `with recursive r(oid) as (
       select unnest($1::oid[])
       union select c.conrelid from pg_constraint c join r on c.confrelid = r.oid where c.contype = 'f')
     select n.nspname as schema, t.relname as name from r join pg_class t on t.oid = r.oid
       join pg_namespace n on n.oid = t.relnamespace where not (r.oid = any($1::oid[]))`,
    [oids],
  );
  return rows.map((r) => ({ ...r, only: false }));
}

/** Tables of the schemas (partitions counted through their parent). */
async function tablesOfSchemas(client: Client, schemas: readonly string[]): Promise<TableRow[]> {
  const { rows } = await client.query<{ schema: string; name: string; only: boolean }>(
    `select n.nspname as schema, c.relname as name, c.relkind = 'r' as only
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1::text[]) and c.relkind in ('r', 'p') and not c.relispartition order by 1, 2`,
    [schemas],
  );
  return rows;
}

/** The tables a DROP TABLE / DROP SCHEMA / TRUNCATE is about to remove or empty; [] for other statements. */
async function tablesAboutToGo(client: Client, node: Node): Promise<TableRow[]> {
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_TABLE') {
    const names = (node.DropStmt.objects ?? []).map((o) =>
      'List' in o ? strings(o.List.items).map(quoteIdent).join('.') : '',
    );
    return resolve(client, names, false);
  }
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_SCHEMA') {
    return tablesOfSchemas(client, strings(node.DropStmt.objects));
  }
  if ('TruncateStmt' in node) {
    const found: (TableRow & { oid: number })[] = [];
    for (const r of node.TruncateStmt.relations ?? []) {
      if (!('RangeVar' in r)) continue;
      const { schemaname, relname = '', inh } = r.RangeVar;
      const written = schemaname === undefined ? quoteIdent(relname) : qualify(schemaname, relname);
      found.push(...(await resolve(client, [written], inh !== true)));
    }
    const cascade = node.TruncateStmt.behavior === 'DROP_CASCADE';
    return [
      ...found,
      ...(cascade
        ? await referencing(
            client,
            found.map((t) => t.oid),
          )
        : []),
    ];
  }
  return [];
}

/** True for the statements whose removed rows the report counts. */
export function removesTables(node: Node): boolean {
  return (
    ('DropStmt' in node && ['OBJECT_TABLE', 'OBJECT_SCHEMA'].includes(node.DropStmt.removeType ?? '')) ||
    'TruncateStmt' in node
  );
}

/** Counts the rows of the tables `node` is about to drop or empty (run it just before the statement). */
export async function countRowsAboutToGo(client: Client, node: Node): Promise<RemovedRows[]> {
  const out: RemovedRows[] = [];
  for (const t of await tablesAboutToGo(client, node)) {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from ${t.only ? 'only ' : ''}${qualify(t.schema, t.name)}`,
    );
    out.push({ table: `${t.schema}.${t.name}`, rows: Number(rows[0]!.n) });
  }
  return out;
}

/** What the report says a statement did, or undefined when it changed no rows and removed no table. */
export function statementEffect(
  line: number,
  node: Node,
  result: pg.QueryResult,
  removed: readonly RemovedRows[] | undefined,
): StatementEffect | undefined {
  if (ROW_COMMANDS.has(result.command) && result.rowCount !== null) {
    return { line, command: `${result.command} ${result.rowCount}`, rows: result.rowCount };
  }
  if (removed === undefined) return undefined;
  const command =
    'TruncateStmt' in node
      ? 'TRUNCATE'
      : `DROP ${'DropStmt' in node && node.DropStmt.removeType === 'OBJECT_SCHEMA' ? 'SCHEMA' : 'TABLE'}`;
  return { line, command, removed };
}

/** One line per effect: `line 3: DELETE 1234`, `line 5: TRUNCATE — public.tasks (57 rows)`. */
export function describeEffect(e: StatementEffect): string {
  const tables = (e.removed ?? []).map((r) => `${r.table} (${r.rows} row${r.rows === 1 ? '' : 's'})`);
  return `line ${e.line}: ${e.command}${tables.length > 0 ? ` — ${tables.join(', ')}` : ''}`;
}
