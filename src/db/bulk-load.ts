/**
 * The push's bulk path: large tables load without their secondary indexes and foreign keys, which are
 * re-created after the load (one scan each instead of one index entry and one key check per row), and
 * tables whose foreign keys form a cycle of non-deferrable constraints load with the cycle's
 * constraints dropped and re-added (no load order satisfies them otherwise). pg_restore orders its
 * work the same way: data, then indexes, then constraints.
 *
 * Everything happens inside the push's cloud transaction, on objects exactly as the cloud defines them
 * (pg_get_indexdef / pg_get_constraintdef, same names, NOT VALID kept): before the first drop and
 * again before commit, a fingerprint of every constraint and index of the pushed tables (names,
 * definitions, validated/deferrable flags) must equal the one read when the push planned. Anything
 * else throws, and the transaction rolls back to the catalog as it was.
 *
 * Only the tables' owner can drop and re-create them: tables the cloud role does not own load the
 * normal way (reported once); a cycle through such a table is refused before any change.
 */
import type { TableInfo } from './catalog.js';
import { tableKey } from './catalog.js';
import type { Client } from './connect.js';
import { qualify, quoteIdent, quoteLiteral } from './sql.js';
import { OperationError } from '../errors.js';

/** A foreign key or index the bulk path drops and re-creates, as the cloud defines it. */
export interface BulkObject {
  readonly kind: 'foreign key' | 'index';
  /** The table's name (unquoted, as in the catalog). */
  readonly table: string;
  readonly name: string;
  /** `ALTER TABLE … DROP …` / `DROP INDEX …` target, quoted. */
  readonly dropSql: string;
  /** The statement that re-creates it exactly. */
  readonly createSql: string;
}

export interface BulkPlan {
  /** Tables loaded without their secondary indexes and foreign keys (at least the threshold's rows). */
  readonly tables: readonly string[];
  /** Foreign keys dropped because they form a cycle of non-deferrable constraints (`table.name`). */
  readonly cycleForeignKeys: readonly string[];
  /** Large tables the cloud role does not own: loaded the normal way. */
  readonly notOwned: readonly string[];
  readonly objects: readonly BulkObject[];
  /** Oids of the pushed tables and the fingerprint of their constraints and indexes at planning. */
  readonly tableOids: readonly number[];
  readonly fingerprint: string;
}

/** What a push's result says about the bulk path (`--json`: `bulkLoad`). */
export interface BulkLoadReport {
  readonly minRows: number;
  readonly tables: readonly string[];
  readonly indexes: number;
  readonly foreignKeys: number;
  readonly cycleForeignKeys: readonly string[];
  /** Large tables loaded the normal way because the cloud role does not own them. */
  readonly notOwned: readonly string[];
  /** Time spent re-creating indexes and foreign keys and checking the catalog. */
  readonly rebuildMs: number;
}

export const NO_BULK_PLAN: BulkPlan = {
  tables: [],
  cycleForeignKeys: [],
  notOwned: [],
  objects: [],
  tableOids: [],
  fingerprint: '',
};

interface CapturedTable {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** Ordinary table with no inheritance parent or child, no partitioning. */
  readonly plain: boolean;
  readonly owned: boolean;
}

interface CapturedForeignKey {
  readonly name: string;
  readonly table: number;
  /** Index of the referenced table among the pushed ones; null when it is not pushed. */
  readonly ref: number | null;
  readonly deferrable: boolean;
  readonly def: string;
  /** No comment (a re-created constraint would lose it). */
  readonly movable: boolean;
}

interface CapturedIndex {
  readonly schema: string;
  readonly name: string;
  readonly table: number;
  readonly def: string;
}

interface Captured {
  readonly tables: CapturedTable[];
  readonly fks: CapturedForeignKey[];
  readonly indexes: CapturedIndex[];
  readonly fingerprint: string;
}

/**
 * One md5 over every constraint (either end on the tables) and index of the tables in `oids` (SQL
 * `oid[]`): names, definitions, validated/deferrable flags. Computed by the server at planning, before
 * the first drop and before commit; equal values mean the same catalog.
 */
function fingerprintSql(oids: string): string {
  return `(select md5(coalesce(string_agg(line, E'\\n' order by line), '')) from (
      select concat_ws('|', 'c', k.conrelid::oid, k.confrelid::oid, k.conname, k.contype, pg_get_constraintdef(k.oid),
             k.convalidated, k.condeferrable, k.condeferred) as line
        from pg_constraint k where k.conrelid = any(${oids}) or k.confrelid = any(${oids})
      union all
      select concat_ws('|', 'i', i.indrelid::oid, ic.relnamespace::oid, ic.relname, pg_get_indexdef(i.indexrelid),
             i.indisvalid, i.indisunique, i.indisclustered, i.indisreplident, ic.reltablespace::oid)
        from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = any(${oids})) lines)`;
}

/**
 * The catalog facts the plan needs, in one query (one round trip): the pushed tables, their foreign
 * keys, the secondary indexes of the large ones (not backing a constraint, valid, not the replica
 * identity or cluster index, no comment, default tablespace), and the fingerprint.
 */
async function capture(
  cloud: Client,
  tables: readonly string[],
  large: readonly number[],
): Promise<Captured> {
  const { rows } = await cloud.query<{ doc: Captured }>(
    `with t as (select x::regclass::oid as oid, (ord - 1)::int as i from unnest($1::text[]) with ordinality u(x, ord))
     select json_build_object(
       'tables', (select coalesce(json_agg(json_build_object('oid', c.oid, 'schema', n.nspname, 'name', c.relname,
            'plain', c.relkind = 'r' and not c.relispartition
                     and not exists (select 1 from pg_inherits h where h.inhrelid = c.oid or h.inhparent = c.oid),
            'owned', pg_has_role(c.relowner, 'USAGE')) order by t.i), '[]')
          from t join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace),
       'fks', (select coalesce(json_agg(json_build_object('name', k.conname, 'table', t.i, 'ref', r.i,
            'deferrable', k.condeferrable, 'def', pg_get_constraintdef(k.oid),
            'movable', obj_description(k.oid, 'pg_constraint') is null and k.conparentid = 0) order by t.i, k.conname), '[]')
          from pg_constraint k join t on t.oid = k.conrelid left join t r on r.oid = k.confrelid
         where k.contype = 'f'),
       'indexes', (select coalesce(json_agg(json_build_object('schema', n.nspname, 'name', ic.relname, 'table', t.i,
            'def', pg_get_indexdef(i.indexrelid)) order by t.i, ic.relname), '[]')
          from pg_index i join t on t.oid = i.indrelid join pg_class ic on ic.oid = i.indexrelid
          join pg_namespace n on n.oid = ic.relnamespace
         where t.i = any($2::int[]) and i.indisvalid and i.indisready and i.indislive and not i.indisprimary
           and not i.indisreplident and not i.indisclustered and ic.reltablespace = 0
           and obj_description(i.indexrelid, 'pg_class') is null
           and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)),
       'fingerprint', ${fingerprintSql('array(select oid from t)')}) as doc`,
    [tables, large],
  );
  return rows[0]!.doc;
}

/** Strongly connected components of the tables' reference graph (Tarjan); `edges[i]` = targets of i. */
function components(count: number, edges: readonly (readonly number[])[]): number[] {
  const comp = new Array<number>(count).fill(-1);
  const index = new Array<number>(count).fill(-1);
  const low = new Array<number>(count).fill(0);
  const stack: number[] = [];
  const onStack = new Set<number>();
  let next = 0;
  let found = 0;
  const visit = (v: number): void => {
    index[v] = low[v] = next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges[v]!) {
      if (index[w] === -1) {
        visit(w);
        low[v] = Math.min(low[v]!, low[w]!);
      } else if (onStack.has(w)) low[v] = Math.min(low[v]!, index[w]!);
    }
    if (low[v] !== index[v]) return;
    let w: number;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      comp[w] = found;
    } while (w !== v);
    found++;
  };
  for (let v = 0; v < count; v++) if (index[v] === -1) visit(v);
  return comp;
}

/** True when some of the tables' foreign keys (self-references aside) form a cycle. */
export function hasForeignKeyCycle(tables: readonly TableInfo[]): boolean {
  const at = new Map(tables.map((t, i) => [tableKey(t.schema, t.name), i]));
  const edges = tables.map((t) => t.references.flatMap((r) => (at.has(r) ? [at.get(r)!] : [])));
  const comp = components(tables.length, edges);
  return new Set(comp).size < tables.length;
}

/**
 * Foreign keys to drop for cycles: every one inside a group of tables that reference each other in a
 * circle, when the group has at least one non-deferrable constraint (a group of deferrable ones only
 * loads with its constraints deferred).
 */
function cycleKeys(c: Captured): CapturedForeignKey[] {
  const internal = c.fks.filter((k) => k.ref !== null && k.ref !== k.table);
  const edges = c.tables.map((_, i) => internal.filter((k) => k.table === i).map((k) => k.ref!));
  const comp = components(c.tables.length, edges);
  const inCycle = internal.filter((k) => comp[k.table] === comp[k.ref!]);
  const hard = new Set(inCycle.filter((k) => !k.deferrable).map((k) => comp[k.table]));
  return inCycle.filter((k) => hard.has(comp[k.table]));
}

function refuseCycle(c: Captured, keys: readonly CapturedForeignKey[]): void {
  const blocked = keys.filter((k) => !c.tables[k.table]!.owned || !c.tables[k.table]!.plain || !k.movable);
  if (blocked.length === 0) return;
  const k = blocked[0]!;
  const t = c.tables[k.table]!;
  const why = !t.owned
    ? 'the cloud role does not own that table'
    : !t.plain
      ? 'the table is partitioned or inherits'
      : 'the constraint has a comment';
  throw new OperationError(
    `Foreign keys form a cycle of non-deferrable constraints (${keys.map((x) => `${c.tables[x.table]!.name}.${x.name}`).join(', ')}) and crm-env cannot drop and re-add ${t.name}.${k.name} for the load: ${why}. Nothing was changed; make the constraints DEFERRABLE or run the push as the tables' owner.`,
  );
}

function foreignKeyObject(c: Captured, k: CapturedForeignKey): BulkObject {
  const t = c.tables[k.table]!;
  const table = qualify(t.schema, t.name);
  return {
    kind: 'foreign key',
    table: t.name,
    name: k.name,
    dropSql: `alter table ${table} drop constraint ${quoteIdent(k.name)}`,
    createSql: `alter table ${table} add constraint ${quoteIdent(k.name)} ${k.def}`,
  };
}

function indexObject(c: Captured, x: CapturedIndex): BulkObject {
  return {
    kind: 'index',
    table: c.tables[x.table]!.name,
    name: x.name,
    dropSql: `drop index ${qualify(x.schema, x.name)}`,
    createSql: x.def,
  };
}

/**
 * Plans the bulk path (read-only; before the push takes its locks). Tables with at least `minRows`
 * local rows drop their secondary indexes and the foreign keys to other pushed tables; cycles of
 * non-deferrable foreign keys drop those keys. No cloud query when neither applies.
 * @throws OperationError for a cycle crm-env cannot drop and re-add (nothing changed).
 */
export async function planBulkLoad(
  cloud: Client,
  tables: readonly { cloud: TableInfo; rows: number }[],
  minRows: number,
): Promise<BulkPlan> {
  const large = tables.flatMap((t, i) => (t.rows >= minRows ? [i] : []));
  if (large.length === 0 && !hasForeignKeyCycle(tables.map((t) => t.cloud))) return NO_BULK_PLAN;
  const c = await capture(
    cloud,
    tables.map((t) => t.cloud.qualified),
    large,
  );
  const cycle = cycleKeys(c);
  refuseCycle(c, cycle);
  const bulk = large.filter((i) => c.tables[i]!.plain && c.tables[i]!.owned);
  const notOwned = large.filter((i) => c.tables[i]!.plain && !c.tables[i]!.owned);
  const keys = new Set(cycle);
  for (const k of c.fks) if (bulk.includes(k.table) && k.ref !== null && k.movable) keys.add(k);
  const objects = [
    ...c.indexes.filter((x) => bulk.includes(x.table)).map((x) => indexObject(c, x)),
    ...[...keys].map((k) => foreignKeyObject(c, k)),
  ];
  return {
    tables: bulk.map((i) => c.tables[i]!.name),
    cycleForeignKeys: cycle.map((k) => `${c.tables[k.table]!.name}.${k.name}`),
    notOwned: notOwned.map((i) => c.tables[i]!.name),
    objects,
    tableOids: c.tables.map((t) => t.oid),
    fingerprint: c.fingerprint,
  };
}

/** A DO block that throws `message` unless the pushed tables' catalog still has the planned fingerprint. */
function fingerprintGuard(plan: BulkPlan, message: string): string {
  const oids = `'{${plan.tableOids.join(',')}}'::oid[]`;
  return `do $crm_env$ begin
    if ${fingerprintSql(oids)} is distinct from ${quoteLiteral(plan.fingerprint)} then
      raise exception using message = ${quoteLiteral(message)};
    end if;
  end $crm_env$`;
}

/**
 * Inside the push transaction, before the load: checks the catalog is still as planned, then drops
 * the planned foreign keys and indexes. One round trip; none without a plan.
 */
export async function dropForBulkLoad(cloud: Client, plan: BulkPlan): Promise<void> {
  if (plan.objects.length === 0) return;
  const fks = plan.objects.filter((o) => o.kind === 'foreign key');
  const indexes = plan.objects.filter((o) => o.kind === 'index');
  await cloud.query(
    [
      fingerprintGuard(
        plan,
        'the cloud tables’ constraints or indexes changed while the push was planning (a migration?); try again',
      ),
      ...fks.map((o) => o.dropSql),
      ...indexes.map((o) => o.dropSql),
    ].join(';\n'),
  );
}

/**
 * Inside the push transaction, after the load: re-creates the indexes, re-adds the foreign keys (each
 * validated by one scan, or NOT VALID as before), and checks the catalog is identical to the one
 * planned. One round trip; any failure throws and the caller rolls back.
 */
export async function restoreAfterBulkLoad(cloud: Client, plan: BulkPlan): Promise<void> {
  if (plan.objects.length === 0) return;
  const fks = plan.objects.filter((o) => o.kind === 'foreign key');
  const indexes = plan.objects.filter((o) => o.kind === 'index');
  await cloud.query(
    [
      ...indexes.map((o) => o.createSql),
      ...fks.map((o) => o.createSql),
      fingerprintGuard(
        plan,
        'after the bulk load the cloud tables’ constraints or indexes differed from before',
      ),
    ].join(';\n'),
  );
}

export function bulkLoadReport(plan: BulkPlan, minRows: number, rebuildMs: number): BulkLoadReport {
  return {
    minRows,
    tables: plan.tables,
    indexes: plan.objects.filter((o) => o.kind === 'index').length,
    foreignKeys: plan.objects.filter((o) => o.kind === 'foreign key').length,
    cycleForeignKeys: plan.cycleForeignKeys,
    notOwned: plan.notOwned,
    rebuildMs,
  };
}
