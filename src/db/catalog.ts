/**
 * Reads tables, columns, keys and sequences from the catalog, in bulk, and orders tables so that every
 * table comes after the tables its foreign keys point to. Nothing here keeps a list of table names.
 */
import type { QueryResult } from 'pg';
import type { Client } from './connect.js';
import { qualify, quoteLiteral } from './sql.js';

export interface ColumnInfo {
  readonly name: string;
  /** `format_type()` output, e.g. `numeric(12,2)`, `uuid[]`. */
  readonly type: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
  /** Stored generated column: computed by the server, never copied. */
  readonly generated: boolean;
  /** 'always' | 'by default' for identity columns. */
  readonly identity: 'always' | 'by default' | null;
}

export interface SequenceInfo {
  /** Qualified, quoted sequence name, ready for SQL text. */
  readonly sequence: string;
  readonly column: string;
}

export interface TableInfo {
  readonly schema: string;
  readonly name: string;
  /** `"schema"."name"`, quoted. */
  readonly qualified: string;
  readonly columns: readonly ColumnInfo[];
  /** Columns COPY may write: every column but generated ones, in table order. */
  readonly copyColumns: readonly string[];
  readonly primaryKey: readonly string[];
  readonly sequences: readonly SequenceInfo[];
  /** Other tables (qualified keys `schema.name`) this table references by foreign key. */
  readonly references: readonly string[];
  /** A partitioned parent: its rows live in its partitions (read and written through the parent). */
  readonly partitioned: boolean;
  /**
   * What reads this table's own rows: `ONLY "schema"."name"` (an inheritance parent's children are
   * tables of their own), or the partitioned parent itself (its partitions' rows are its rows).
   */
  readonly source: string;
  /** This table's foreign keys to other tables, by constraint (for ordering despite cycles). */
  readonly foreignKeys: readonly ForeignKeyEdge[];
}

/** One foreign key as the ordering sees it: the constraint, the table it points to, deferrable or not. */
export interface ForeignKeyEdge {
  readonly constraint: string;
  /** Qualified key `schema.name` of the referenced table. */
  readonly parent: string;
  readonly deferrable: boolean;
}

/** The SQL that reads a table's own rows (see {@link TableInfo.source}). */
export function tableSource(qualified: string, partitioned: boolean): string {
  return partitioned ? qualified : `only ${qualified}`;
}

export function tableKey(schema: string, name: string): string {
  return `${schema}.${name}`;
}

/** A table named by the catalog. */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
  /** `"schema"."name"`, quoted. */
  readonly qualified: string;
}

/**
 * The tables of `schema`: ordinary tables and partitioned parents, and only with `partitions` their
 * partitions (a partition's rows are its parent's). Catalog only: no table locks.
 */
export async function listTables(
  client: Client,
  schema = 'public',
  options: { partitions?: boolean } = {},
): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and ($2 or not c.relispartition)
      order by 1, 2`,
    [schema, options.partitions ?? false],
  );
  return rows.map((r) => ({ ...r, qualified: qualify(r.schema, r.name) }));
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  type: string;
  not_null: boolean;
  has_default: boolean;
  generated: string;
  identity: string;
  sequence: string | null;
  pk: boolean;
  partitioned: boolean;
}

/** Every ordinary (or partitioned parent) table of `schema`, in foreign-key order. */
export async function readTables(client: Client, schema = 'public'): Promise<TableInfo[]> {
  // Both catalog queries in one simple-query round trip (the schema goes in as a quoted literal,
  // since a multi-statement query cannot take parameters).
  const results = (await client.query(readTablesSql(schema))) as unknown as QueryResult[];
  return tablesFrom(results, schema);
}

/** {@link readTables}' two statements (no parameters), to send with others. */
export function readTablesSql(schema: string): string {
  const schemaLit = quoteLiteral(schema);
  return `
    select c.relname as table_name, a.attname as column_name,
            format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
            a.atthasdef as has_default, a.attgenerated as generated, a.attidentity as identity,
            pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as sequence,
            coalesce(a.attnum = any(pk.conkey), false) as pk, c.relkind = 'p' as partitioned
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       left join pg_constraint pk on pk.conrelid = c.oid and pk.contype = 'p'
      where n.nspname = ${schemaLit} and c.relkind in ('r', 'p') and not c.relispartition
      order by c.relname, a.attnum;
    select c.relname as child, pn.nspname as parent_schema, p.relname as parent,
            k.conname as constraint, k.condeferrable as deferrable
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_class p on p.oid = k.confrelid
       join pg_namespace pn on pn.oid = p.relnamespace
      where k.contype = 'f' and n.nspname = ${schemaLit} and k.conparentid = 0
      order by k.conname`;
}

/** The tables from the two results of {@link readTablesSql}, in foreign-key order. */
export function tablesFrom(raw: readonly QueryResult[], schema: string): TableInfo[] {
  const results = raw as unknown as [
    QueryResult<ColumnRow>,
    QueryResult<{
      child: string;
      parent_schema: string;
      parent: string;
      constraint: string;
      deferrable: boolean;
    }>,
  ];
  const cols = results[0].rows;
  const fks = results[1].rows;
  const byTable = new Map<string, ColumnRow[]>();
  for (const r of cols) byTable.set(r.table_name, [...(byTable.get(r.table_name) ?? []), r]);
  const tables: TableInfo[] = [...byTable.entries()].map(([name, rows]) => {
    const columns: ColumnInfo[] = rows.map((r) => ({
      name: r.column_name,
      type: r.type,
      notNull: r.not_null,
      hasDefault: r.has_default,
      generated: r.generated === 's',
      identity: r.identity === 'a' ? 'always' : r.identity === 'd' ? 'by default' : null,
    }));
    const references = [
      ...new Set(
        fks
          .filter((f) => f.child === name)
          .map((f) => tableKey(f.parent_schema, f.parent))
          .filter((k) => k !== tableKey(schema, name)),
      ),
    ];
    const foreignKeys = fks
      .filter((f) => f.child === name && tableKey(f.parent_schema, f.parent) !== tableKey(schema, name))
      .map((f) => ({
        constraint: f.constraint,
        parent: tableKey(f.parent_schema, f.parent),
        deferrable: f.deferrable,
      }));
    const partitioned = rows[0]!.partitioned;
    return {
      schema,
      name,
      qualified: qualify(schema, name),
      partitioned,
      source: tableSource(qualify(schema, name), partitioned),
      foreignKeys,
      columns,
      copyColumns: columns.filter((c) => !c.generated).map((c) => c.name),
      primaryKey: rows.filter((r) => r.pk).map((r) => r.column_name),
      sequences: rows
        .filter((r) => r.sequence !== null)
        // pg_get_serial_sequence already returns a quoted, qualified name.
        .map((r) => ({ sequence: r.sequence!, column: r.column_name })),
      references,
    };
  });
  return sortByForeignKeys(tables);
}

/**
 * Topological order, parents first; ties broken by name so the order is stable. References to tables
 * outside the set (other schemas) are ignored. Tables whose foreign keys form a cycle have no such
 * order: the reference that closes the cycle is skipped (the push loads those tables with the cycle's
 * constraints dropped and re-added, see src/db/bulk-load.ts).
 */
export function sortByForeignKeys(tables: readonly TableInfo[]): TableInfo[] {
  const byKey = new Map(tables.map((t) => [tableKey(t.schema, t.name), t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: TableInfo[] = [];
  const visit = (key: string): void => {
    if (done.has(key)) return;
    if (visiting.has(key)) return;
    visiting.add(key);
    const t = byKey.get(key)!;
    for (const parent of [...t.references].sort()) if (byKey.has(parent)) visit(parent);
    visiting.delete(key);
    done.add(key);
    out.push(t);
  };
  for (const key of [...byKey.keys()].sort()) visit(key);
  return out;
}

/** A deferrable foreign key the load defers, because it closes a cycle. */
export interface DeferredConstraint {
  /** `schema.table|constraint`, unique. */
  readonly key: string;
  /** Qualified, quoted constraint name for SET CONSTRAINTS. */
  readonly qualified: string;
}

/**
 * The foreign keys of cycles made only of DEFERRABLE keys (both ends in the same strongly connected
 * component): the load and the restores run with them deferred until every table is in.
 */
export function cycleBreakingConstraints(tables: readonly TableInfo[]): DeferredConstraint[] {
  const keys = new Set(tables.map((t) => tableKey(t.schema, t.name)));
  const component = stronglyConnected([...keys], (k) =>
    tables
      .find((t) => tableKey(t.schema, t.name) === k)!
      .foreignKeys.map((f) => f.parent)
      .filter((p) => keys.has(p)),
  );
  const inCycle = tables.flatMap((t) => {
    const key = tableKey(t.schema, t.name);
    return t.foreignKeys
      .filter((f) => keys.has(f.parent) && component.get(f.parent) === component.get(key))
      .map((f) => ({ t, f, group: component.get(key)! }));
  });
  // A group with a non-deferrable key loads with the group's keys dropped and re-added (bulk-load.ts).
  const hard = new Set(inCycle.filter((x) => !x.f.deferrable).map((x) => x.group));
  return inCycle
    .filter((x) => !hard.has(x.group))
    .map(({ t, f }) => ({
      key: `${tableKey(t.schema, t.name)}|${f.constraint}`,
      qualified: qualify(t.schema, f.constraint),
    }));
}

/** Tarjan's algorithm: node → component id. */
function stronglyConnected(
  nodes: readonly string[],
  edges: (n: string) => readonly string[],
): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const component = new Map<string, number>();
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.set(w, index.get(v)!);
    } while (w !== v);
  };
  for (const n of nodes) if (!index.has(n)) connect(n);
  return component;
}

/** A foreign key, column by column: `columns` of `table` reference `refColumns` of `refSchema.refTable`. */
export interface ForeignKey {
  readonly table: string;
  readonly columns: readonly string[];
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
}

/** Every foreign key of the tables of `schema` (to any schema), with its columns in key order. */
export async function readForeignKeys(client: Client, schema = 'public'): Promise<ForeignKey[]> {
  return (await client.query<ForeignKey>(foreignKeysSql(schema))).rows;
}

/** {@link readForeignKeys}' query (one statement, no parameters), to send with others. */
export function foreignKeysSql(schema: string): string {
  const cols = (rel: string, keys: string): string =>
    `array(select a.attname::text from unnest(${keys}) with ordinality u(num, ord)
             join pg_attribute a on a.attrelid = ${rel} and a.attnum = u.num order by u.ord)`;
  return `select c.relname as "table", ${cols('k.conrelid', 'k.conkey')} as columns,
            pn.nspname as "refSchema", p.relname as "refTable", ${cols('k.confrelid', 'k.confkey')} as "refColumns"
       from pg_constraint k
       join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_class p on p.oid = k.confrelid
       join pg_namespace pn on pn.oid = p.relnamespace
      where k.contype = 'f' and n.nspname = ${quoteLiteral(schema)}
      order by 1, k.conname`;
}
