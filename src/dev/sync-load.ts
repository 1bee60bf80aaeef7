/**
 * How a push loads rows into the cloud, inside its transaction, with as few round trips as possible
 * (a real cloud is 20 ms away, and every statement costs at least one round trip):
 * - small tables (and the test users) travel together in ONE COPY into a temporary staging table, as
 *   record text (`row(…)::text`), and are inserted from there with one batch of statements. Record
 *   text round-trips every type exactly, through each type's own input and output functions;
 * - big tables stream with their own COPY, the fastest path per row.
 * Statements run in foreign-key order; consecutive staged tables share one round trip.
 */
import type { TableInfo } from '../db/catalog.js';
import { cycleBreakingConstraints } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { copyBetween, copyQueryBetween } from '../db/copy.js';
import { readSequenceStates, readTableSequences, restartSql } from '../db/sequences.js';
import { columnList, quoteIdent } from '../db/sql.js';

/** Tables up to this many rows go through the staging table. */
export const STAGE_MAX_ROWS = 10_000;

/** Staging keys of the auth rows (public tables use their index, 0…n-1). */
const USERS = -1;
const IDENTITIES = -2;

export interface AuthPair {
  readonly local: TableInfo;
  readonly cloud: TableInfo;
  /** Columns both sides can store (GoTrue versions differ between local and cloud). */
  readonly columns: readonly string[];
}

/** Everything the load steps share: both clients (in their transactions), the plan, the users. */
export interface LoadContext {
  readonly local: Client;
  readonly cloud: Client;
  readonly plan: LoadPlan;
  readonly users: AuthPair;
  readonly identities: AuthPair;
  /** SQL predicate selecting test users by email. */
  readonly pred: string;
  readonly signal?: AbortSignal;
}

export interface LoadPlan {
  readonly tables: readonly { local: TableInfo; cloud: TableInfo; rows: number; staged: boolean }[];
  readonly testUsers: number;
}

function rowType(key: number): string {
  return `pg_temp.${quoteIdent(`crm_env_r${key < 0 ? `_${-key}` : key}`)}`;
}

function recordText(columns: readonly string[]): string {
  return `row(${columnList(columns)})::text`;
}

/** Counts local rows (one query on local, inside its snapshot) and decides each table's path. */
export async function planLoad(
  local: Client,
  tables: readonly { local: TableInfo; cloud: TableInfo }[],
  users: AuthPair,
  pred: string,
): Promise<LoadPlan> {
  const parts = [
    `select ${USERS} as i, count(*)::bigint::text as n from ${users.local.qualified} where ${pred}`,
    ...tables.map((t, i) => `select ${i}, count(*)::bigint::text from ${t.local.source}`),
  ];
  const { rows } = await local.query<{ i: number; n: string }>(parts.join(' union all '));
  const count = (i: number): number => Number(rows.find((r) => Number(r.i) === i)!.n);
  return {
    tables: tables.map((t, i) => ({ ...t, rows: count(i), staged: count(i) <= STAGE_MAX_ROWS })),
    testUsers: count(USERS),
  };
}

/** The staging table, created with the transaction's first batch (it touches no real table). */
export const STAGING_TABLE_SQL =
  'create temp table crm_env_stage (i int not null, line text not null) on commit drop';

/**
 * One row-type table per staged table (column order = local's copy columns, types = the cloud's).
 * Created in the load batch, after the backup: reading the cloud's auth tables any earlier would make
 * the transaction wait on them before the backup starts.
 */
function rowTypesSql(plan: LoadPlan, users: AuthPair, identities: AuthPair): string[] {
  const typeTables = [
    { key: USERS, cols: users.columns, from: users.cloud.qualified },
    { key: IDENTITIES, cols: identities.columns, from: identities.cloud.qualified },
    ...plan.tables.flatMap((t, i) =>
      t.staged && !ownRowType(t) ? [{ key: i, cols: t.local.copyColumns, from: t.cloud.qualified }] : [],
    ),
  ];
  return typeTables.map(
    (t) =>
      `create temp table ${rowType(t.key)} on commit drop as select ${columnList(t.cols)} from ${t.from} limit 0`,
  );
}

/** Fills the staging table with the test users, their identities and every small table: one COPY. */
export async function fillStage(ctx: LoadContext): Promise<number> {
  const { local, cloud, plan, users, identities, pred, signal } = ctx;
  const out = [
    `select ${USERS} as i, ${recordText(users.columns)} as line from ${users.local.qualified} where ${pred}`,
    `select ${IDENTITIES}, ${recordText(identities.columns)} from ${identities.local.qualified}
       where user_id in (select id from ${users.local.qualified} where ${pred})`,
    ...plan.tables.flatMap((t, i) =>
      t.staged && t.rows > 0
        ? [`select ${i}, ${recordText(t.local.copyColumns)} from ${t.local.source}`]
        : [],
    ),
  ];
  const r = await copyQueryBetween(
    local,
    cloud,
    `copy (${out.join(' union all ')}) to stdout`,
    'copy crm_env_stage (i, line) from stdin',
    signal,
  );
  return r.bytes;
}

/**
 * A staged table whose local copy columns are the cloud table's columns, in order, none generated,
 * decodes its record text as the cloud table's own row type: no row-type table to create (with 200
 * small tables, 200 fewer CREATE TABLEs in the transaction).
 */
function ownRowType(t: { local: TableInfo; cloud: TableInfo }): boolean {
  const cols = t.cloud.columns;
  return (
    cols.length === t.local.copyColumns.length &&
    cols.every((c, i) => !c.generated && c.name === t.local.copyColumns[i])
  );
}

/** `offset 0` keeps the subquery whole, so each record is decoded once, not once per column. */
function insertStaged(
  key: number,
  target: string,
  columns: readonly string[],
  type = rowType(key),
  overriding = false,
): string {
  // `overriding`: GENERATED ALWAYS identity columns take the copied values, not drawn ones.
  return `insert into ${target} (${columnList(columns)})${overriding ? ' overriding system value' : ''}
    select (s.r).* from (select line::${type} as r from crm_env_stage where i = ${key} offset 0) s`;
}

/** Replaces the cloud's test users and their identities with the staged ones; no other user is touched. */
function usersSql(users: AuthPair, identities: AuthPair, pred: string): string[] {
  const stagedIds = `select (line::${rowType(USERS)}).id from crm_env_stage where i = ${USERS}`;
  const updates = users.columns
    .filter((c) => c !== 'id')
    .map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
  return [
    // Test users that exist only on the cloud go: after a push the cloud's test users are local's.
    `delete from ${users.cloud.qualified} where ${pred} and id not in (${stagedIds})`,
    `${insertStaged(USERS, users.cloud.qualified, users.columns)} on conflict (id) do update set ${updates.join(', ')}`,
    `delete from ${identities.cloud.qualified} where user_id in (${stagedIds})`,
    insertStaged(IDENTITIES, identities.cloud.qualified, identities.columns),
  ];
}

/** Whether the table has GENERATED ALWAYS identity columns among the copied ones. */
function alwaysIdentity(t: LoadPlan['tables'][number]): boolean {
  const copied = new Set(t.local.copyColumns);
  return t.cloud.columns.some((c) => c.identity === 'always' && copied.has(c.name));
}

/**
 * The foreign keys that close a cycle (all DEFERRABLE, or the tables could not have been ordered) are
 * deferred for the load and checked right after it (SET CONSTRAINTS … IMMEDIATE runs the pending
 * checks), before the verification.
 */
function deferSql(plan: LoadPlan): { start: string[]; end: string[] } {
  const names = cycleBreakingConstraints(plan.tables.map((t) => t.cloud)).map((c) => c.qualified);
  if (names.length === 0) return { start: [], end: [] };
  return {
    start: [`set constraints ${names.join(', ')} deferred`],
    end: [`set constraints ${names.join(', ')} immediate`],
  };
}

/** Gives a server error that names no table the table(s) the failing statement loaded. */
function nameTables(names: readonly string[]): (err: unknown) => never {
  return (err) => {
    const e = err as { table?: string };
    if (e && typeof e === 'object' && !e.table && names.length > 0) {
      e.table = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}`;
    }
    throw err;
  };
}

export interface LoadedTable {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
  readonly ms: number;
  readonly staged: boolean;
}

/**
 * Empties the cloud tables and loads everything in foreign-key order. `finalSql` (the sequence moves)
 * rides along with the last batch.
 */
export async function loadTables(
  ctx: LoadContext,
  finalSql: readonly string[],
  onTable: (name: string, index: number, total: number) => void,
): Promise<LoadedTable[]> {
  const { local, cloud, plan, users, identities, pred, signal } = ctx;
  const results: LoadedTable[] = [];
  const deferred = deferSql(plan);
  let batch: string[] = [
    ...rowTypesSql(plan, users, identities),
    `truncate table ${plan.tables.map((t) => t.cloud.source).join(', ')}`,
    ...deferred.start,
    ...usersSql(users, identities, pred),
  ];
  let batchTables: { name: string; rows: number }[] = [];
  let batchStart = performance.now();
  const flush = async (): Promise<void> => {
    if (batch.length > 0)
      await cloud.query(batch.join(';\n')).catch(nameTables(batchTables.map((t) => t.name)));
    const ms = (performance.now() - batchStart) / Math.max(1, batchTables.length);
    for (const t of batchTables) results.push({ table: t.name, rows: t.rows, bytes: 0, ms, staged: true });
    batch = [];
    batchTables = [];
    batchStart = performance.now();
  };
  for (const [i, t] of plan.tables.entries()) {
    onTable(t.local.name, i, plan.tables.length);
    if (t.staged) {
      if (t.rows > 0)
        batch.push(
          insertStaged(
            i,
            t.cloud.qualified,
            t.local.copyColumns,
            ownRowType(t) ? t.cloud.qualified : rowType(i),
            alwaysIdentity(t),
          ),
        );
      batchTables.push({ name: t.local.name, rows: t.rows });
      continue;
    }
    await flush();
    const started = performance.now();
    const r = await copyBetween(
      local,
      cloud,
      {
        qualified: t.local.qualified,
        columns: t.local.copyColumns,
        source: t.local.source,
        partitioned: t.local.partitioned,
      },
      t.cloud.qualified,
      signal,
    ).catch(nameTables([t.local.name]));
    results.push({
      table: t.local.name,
      rows: r.rows,
      bytes: r.bytes,
      ms: performance.now() - started,
      staged: false,
    });
    batchStart = performance.now();
  }
  batch.push(...deferred.end, ...finalSql);
  await flush();
  return results;
}

/**
 * SQL that moves every sequence the public tables use (identity, serial, or a plain nextval default,
 * owned or not) so the cloud's next insert does not collide: the next value is local's next value, or
 * past the highest copied value. Runs server-side after the load, costing no round trip of its own.
 */
export async function sequenceMoves(local: Client, cloud: Client): Promise<{ sql: string[]; count: number }> {
  const [mine, theirs] = await Promise.all([readTableSequences(local), readTableSequences(cloud)]);
  const cloudBy = new Map(theirs.map((s) => [s.sequence, s]));
  const pairs = mine.filter((s) => cloudBy.has(s.sequence));
  const states = await readSequenceStates(
    local,
    pairs.map((s) => s.sequence),
  );
  const sql = pairs.map((s) => restartSql(cloudBy.get(s.sequence)!, states.get(s.sequence)!.next));
  return { sql, count: pairs.length };
}
