/**
 * Which rows belong to people who are not test users — the data no command may remove without an
 * explicit, named choice (`--delete-non-test-data`).
 *
 * Ownership comes from the catalog, never from a list of table names:
 * - a *profile* table is a public table whose primary key references auth.users (public.sales);
 * - a table's *owner columns* are its foreign-key columns to auth.users or to a profile table's key
 *   (sales_id, created_by, test_user_metadata.user_id); a row belongs to the users they name;
 * - a table without owner columns inherits: its row belongs to whoever owns a row it references
 *   (transitively, in foreign-key order);
 * - tables with neither (segments, tags) are shared and belong to nobody.
 * A non-test user is an auth user whose email is not in the test domain.
 */
import type { QueryResult } from 'pg';
import type { ForeignKey, TableInfo } from '../db/catalog.js';
import { readForeignKeys, readTables } from '../db/catalog.js';
import { CANONICAL_OUTPUT_SQL, useCanonicalOutput } from '../db/checksum.js';
import type { Client } from '../db/connect.js';
import { quoteIdent } from '../db/sql.js';
import { OperationError } from '../errors.js';
import { testUserPredicate } from './test-users-sql.js';

/** At most this many row keys per table are listed (the count is always exact). */
export const LISTED_KEYS = 1000;

export interface NonTestTableRows {
  readonly table: string;
  readonly rows: number;
  /** Primary-key values as JSON arrays (a row hash when the table has no primary key), first {@link LISTED_KEYS}. */
  readonly keys: readonly string[];
}

export interface NonTestDataReport {
  /** Which database ("local", "cloud"). */
  readonly database: string;
  /** The non-test users who own the rows (by owner column), with their emails. */
  readonly users: readonly { readonly id: string; readonly email: string | null }[];
  readonly tables: readonly NonTestTableRows[];
  readonly rows: number;
}

/** Rows of one table that belong to non-test users, with the key and content hash of each. */
interface FoundRow {
  readonly i: number;
  readonly key: string;
  readonly hash: string;
  readonly owner: string | null;
}

export interface FindOptions {
  /** Report only these tables (default: every public table). The ownership walk still uses all. */
  readonly tables?: readonly string[];
  /** Columns hashed per table (default: all); a push hashes the columns it copies. */
  readonly columnsFor?: (table: TableInfo) => readonly string[];
  /**
   * 'owned' (default): every row a non-test user owns. 'referencing-test-rows': only those that
   * reference a row owned by a test user (what replacing the test users' rows would cascade into).
   */
  readonly scope?: 'owned' | 'referencing-test-rows';
}

export interface Ownership {
  readonly tables: readonly TableInfo[];
  readonly fks: readonly ForeignKey[];
  /** Per table name: its owner columns (empty for tables that inherit or are shared). */
  readonly ownerColumns: ReadonlyMap<string, readonly string[]>;
}

function isKeyRef(fk: ForeignKey, key: readonly string[]): boolean {
  return fk.refColumns.length === key.length && fk.refColumns.every((c, i) => c === key[i]);
}

/** Profile tables and owner columns, from the catalog. */
export function ownershipOf(tables: readonly TableInfo[], fks: readonly ForeignKey[]): Ownership {
  const toAuthUsers = (fk: ForeignKey): boolean =>
    fk.refSchema === 'auth' &&
    fk.refTable === 'users' &&
    fk.refColumns.length === 1 &&
    fk.refColumns[0] === 'id';
  const byName = new Map(tables.map((t) => [t.name, t]));
  const profiles = new Set(
    fks
      .filter(
        (fk) =>
          toAuthUsers(fk) &&
          isKeyRef({ ...fk, refColumns: fk.columns }, byName.get(fk.table)?.primaryKey ?? []),
      )
      .map((fk) => fk.table),
  );
  const ownerColumns = new Map<string, string[]>();
  for (const t of tables) ownerColumns.set(t.name, []);
  for (const fk of fks) {
    const toProfile =
      fk.refSchema === 'public' &&
      profiles.has(fk.refTable) &&
      fk.columns.length === 1 &&
      isKeyRef(fk, byName.get(fk.refTable)!.primaryKey);
    if (toAuthUsers(fk) || toProfile) ownerColumns.get(fk.table)?.push(fk.columns[0]!);
  }
  return { tables, fks, ownerColumns };
}

const cte = (kind: 'n' | 't', i: number): string => `${kind}_${i}`;

/**
 * One CTE per table (foreign-key order): the rows owned by non-test users (`n_i`) or by test users
 * (`t_i`), whole rows, so children can match any referenced columns.
 */
function ownedCtes(o: Ownership, kind: 'n' | 't', domain: string): string[] {
  const pred = testUserPredicate(domain);
  const ids =
    kind === 'n'
      ? `select id from auth.users where not coalesce(${pred}, false)`
      : `select id from auth.users where ${pred}`;
  const index = new Map(o.tables.map((t, i) => [t.name, i]));
  return o.tables.map((t, i) => {
    const owners = o.ownerColumns.get(t.name)!;
    const conditions =
      owners.length > 0
        ? owners.map((c) => `t.${quoteIdent(c)} in (${ids})`)
        : o.fks
            .filter(
              (fk) => fk.table === t.name && fk.refSchema === 'public' && (index.get(fk.refTable) ?? i) < i,
            )
            .map(
              (fk) =>
                `(${fk.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')}) in (select ${fk.refColumns.map(quoteIdent).join(', ')} from ${cte(kind, index.get(fk.refTable)!)})`,
            );
    return `${cte(kind, i)} as (select t.* from ${t.source} t where ${conditions.length > 0 ? conditions.join(' or ') : 'false'})`;
  });
}

/** The key expression of a row of `t` (alias s): its primary key as a JSON array, or its content hash. */
function keyExpr(t: TableInfo, hash: string): string {
  return t.primaryKey.length > 0
    ? `jsonb_build_array(${t.primaryKey.map((c) => `s.${quoteIdent(c)}`).join(', ')})::text`
    : hash;
}

function hashExpr(columns: readonly string[]): string {
  return `md5(row(${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')})::text)`;
}

/**
 * The query (one statement, no parameters) for the non-test rows of the tables to report; null when
 * there is nothing to ask. Its rows are {@link FoundRow}s; it expects canonical output
 * ({@link CANONICAL_OUTPUT_SQL}) in force, for the content hashes.
 */
function ownedRowsSql(o: Ownership, domain: string, options: FindOptions): string | null {
  const report = new Set(options.tables ?? o.tables.map((t) => t.name));
  const referencing = options.scope === 'referencing-test-rows';
  const index = new Map(o.tables.map((t, i) => [t.name, i]));
  const selects = o.tables.flatMap((t, i) => {
    if (!report.has(t.name)) return [];
    const hash = hashExpr(options.columnsFor?.(t) ?? t.columns.map((c) => c.name));
    const owner = o.ownerColumns.get(t.name)![0];
    const hits = referencing
      ? o.fks
          .filter((fk) => fk.table === t.name && fk.refSchema === 'public' && index.has(fk.refTable))
          .map(
            (fk) =>
              `(${fk.columns.map((c) => `s.${quoteIdent(c)}`).join(', ')}) in (select ${fk.refColumns.map(quoteIdent).join(', ')} from ${cte('t', index.get(fk.refTable)!)})`,
          )
      : ['true'];
    if (hits.length === 0) return [];
    return [
      `select ${i} as i, ${keyExpr(t, hash)} as key, ${hash} as hash, ${owner ? `s.${quoteIdent(owner)}::text` : 'null'} as owner
         from ${cte('n', i)} s where ${hits.join(' or ')}`,
    ];
  });
  if (selects.length === 0) return null;
  const ctes = [...ownedCtes(o, 'n', domain), ...(referencing ? ownedCtes(o, 't', domain) : [])];
  return `with ${ctes.join(',\n')} ${selects.join(' union all ')}`;
}

/** The rows of {@link ownedRowsSql}, typed. */
function foundRows(rows: readonly Record<string, unknown>[]): FoundRow[] {
  return rows.map((r) => ({ ...(r as unknown as FoundRow), i: Number(r.i) }));
}

/** Non-test rows of the tables to report, in one query (one round trip). */
async function queryOwnedRows(
  client: Client,
  o: Ownership,
  domain: string,
  options: FindOptions,
): Promise<FoundRow[]> {
  const sql = ownedRowsSql(o, domain, options);
  if (sql === null) return [];
  const results = (await client.query(`${CANONICAL_OUTPUT_SQL}; ${sql}`)) as unknown as QueryResult[];
  return foundRows(results.at(-1)!.rows);
}

async function ownersWithEmails(client: Client, ids: readonly string[]): Promise<NonTestDataReport['users']> {
  if (ids.length === 0) return [];
  const { rows } = await client.query<{ id: string; email: string | null }>(
    `select id::text, email::text from auth.users where id = any($1::text[]::uuid[]) order by email, id`,
    [ids],
  );
  return rows;
}

/** Builds a report from found rows. */
async function toReport(
  client: Client,
  label: string,
  tables: readonly TableInfo[],
  found: readonly FoundRow[],
): Promise<NonTestDataReport> {
  const byTable = new Map<number, FoundRow[]>();
  for (const r of found) byTable.set(r.i, [...(byTable.get(r.i) ?? []), r]);
  const list = [...byTable.entries()]
    .sort(([a], [b]) => a - b)
    .map(([i, rows]) => ({
      table: tables[i]!.name,
      rows: rows.length,
      keys: rows.slice(0, LISTED_KEYS).map((r) => r.key),
    }));
  const owners = [...new Set(found.map((r) => r.owner).filter((o): o is string => o !== null))];
  return { database: label, users: await ownersWithEmails(client, owners), tables: list, rows: found.length };
}

async function readOwnership(client: Client): Promise<Ownership | null> {
  const { rows } = await client.query<{ ok: boolean }>(`select to_regclass('auth.users') is not null as ok`);
  if (!rows[0]!.ok) return null;
  const [tables, fks] = await Promise.all([readTables(client, 'public'), readForeignKeys(client, 'public')]);
  return ownershipOf(tables, fks);
}

/**
 * The rows on the database of `client` that belong to non-test users (read-only). `label` names the
 * database in the report.
 */
export async function findNonTestRows(
  client: Client,
  domain: string,
  label: string,
  options: FindOptions = {},
): Promise<NonTestDataReport> {
  const o = await readOwnership(client);
  if (!o) return { database: label, users: [], tables: [], rows: 0 };
  return toReport(client, label, o.tables, await queryOwnedRows(client, o, domain, options));
}

/** Keys of `table` rows on local (among `keys`) with their content hashes. */
async function localHashes(
  local: Client,
  table: TableInfo,
  columns: readonly string[],
  keys: readonly string[],
): Promise<Map<string, string>> {
  const hash = hashExpr(columns);
  const key = keyExpr(table, hash);
  const pk =
    table.primaryKey.length === 1 ? table.columns.find((c) => c.name === table.primaryKey[0]) : undefined;
  // One primary-key column: look the rows up by it (an index scan), else compare the key text.
  const where = pk ? `s.${quoteIdent(pk.name)} = any($1::text[]::${pk.type}[])` : `${key} = any($1::text[])`;
  const values = pk ? keys.map((k) => String((JSON.parse(k) as unknown[])[0])) : keys;
  const { rows } = await local.query<{ key: string; hash: string }>(
    `select ${key} as key, ${hash} as hash from ${table.source} s where ${where}`,
    [values],
  );
  return new Map(rows.map((r) => [r.key, r.hash]));
}

/**
 * What a push would remove: the cloud's non-test rows in the tables it replaces that local does not
 * hold byte for byte (same key, same content in the columns it copies); a row local holds unchanged is
 * written back as it was, so it is not lost. The question is split so that the cloud query can travel
 * in one round trip with other statements (the re-check under the table locks): `sql` (null = nothing
 * to ask) is one parameterless statement run with canonical output in force; `answer` turns its rows
 * into the report, looking on local for the rows found (only when there are some).
 */
export interface PushRemovalCheck {
  readonly sql: string | null;
  answer(rows: readonly Record<string, unknown>[]): Promise<NonTestDataReport>;
}

export function pushRemovalCheck(
  local: Client,
  cloud: Client,
  o: Ownership,
  domain: string,
  localTables: readonly TableInfo[],
): PushRemovalCheck {
  const localBy = new Map(localTables.map((t) => [t.name, t]));
  const columnsFor = (t: TableInfo): readonly string[] =>
    localBy.get(t.name)?.columns.map((c) => c.name) ?? [];
  const sql = ownedRowsSql(o, domain, { tables: [...localBy.keys()], columnsFor });
  const answer = async (rows: readonly Record<string, unknown>[]): Promise<NonTestDataReport> => {
    const found = foundRows(rows);
    if (found.length === 0) return toReport(cloud, 'cloud', o.tables, []);
    await useCanonicalOutput(local);
    const lost: FoundRow[] = [];
    for (const i of new Set(found.map((r) => r.i))) {
      const hits = found.filter((r) => r.i === i);
      const t = localBy.get(o.tables[i]!.name)!;
      const onLocal = await localHashes(
        local,
        t,
        columnsFor(o.tables[i]!),
        hits.map((r) => r.key),
      );
      lost.push(...hits.filter((r) => onLocal.get(r.key) !== r.hash));
    }
    return toReport(cloud, 'cloud', o.tables, lost);
  };
  return { sql, answer };
}

/** Refused: rows of non-test users would be removed and the caller did not choose to remove them. */
export class NonTestDataError extends OperationError {
  constructor(
    message: string,
    readonly reports: readonly NonTestDataReport[],
    details: readonly string[],
  ) {
    super(message, { details });
  }
}

/** One line per database and table, for error details and reports. */
export function describeNonTestData(reports: readonly NonTestDataReport[]): string[] {
  return reports.flatMap((r) => [
    ...r.tables.map((t) => `${r.database} ${t.table}: ${t.rows} row(s) of non-test users`),
    ...(r.users.length > 0
      ? [`${r.database} owners: ${r.users.map((u) => u.email ?? u.id).join(', ')}`]
      : []),
  ]);
}

/**
 * Throws {@link NonTestDataError} (exit 1, nothing changed) when `reports` hold rows and `allowed` is
 * false. `what` says what the command would do to them ("sync push would delete").
 */
export function refuseNonTestData(
  reports: readonly NonTestDataReport[],
  allowed: boolean,
  what: string,
): void {
  const hit = reports.filter((r) => r.rows > 0);
  if (allowed || hit.length === 0) return;
  const rows = hit.reduce((a, r) => a + r.rows, 0);
  const where = hit.map((r) => r.database).join(' and ');
  throw new NonTestDataError(
    `${what} ${rows} row(s) that belong to users who are not test users (on ${where}); nothing was changed. Pass --delete-non-test-data to go ahead anyway (a backup is taken first), or move those rows first.`,
    hit,
    describeNonTestData(hit),
  );
}
