/**
 * The sequences a schema's tables draw their defaults from — identity and serial columns, and plain
 * `default nextval('x_seq')` whether or not the sequence is OWNED BY the column, shared by several
 * tables or not — with their state and the values already stored in the columns that use them.
 * Push, backups and verify all go through here, so they agree on which sequences count.
 */
import type { Client } from './connect.js';
import type { Read } from './read-together.js';
import { readTogether, valueRead } from './read-together.js';
import { recalled, remember } from './remembered.js';
import { quoteIdent, quoteLiteral } from './sql.js';

/** A column whose default (or identity) draws from a sequence. */
export interface SequenceUse {
  /** Table name (unquoted). */
  readonly table: string;
  /** What reads the table's own rows (`only "s"."t"`, or a partitioned parent). */
  readonly source: string;
  readonly column: string;
  /** An integer or numeric column, whose highest value the sequence must stay past. */
  readonly numeric: boolean;
}

export interface TableSequence {
  /** Qualified, quoted name, ready for SQL text. */
  readonly sequence: string;
  /** `schema.name`, unquoted, for people and JSON. */
  readonly name: string;
  readonly uses: readonly SequenceUse[];
}

interface UseRow {
  sequence: string;
  name: string;
  table_name: string;
  source: string;
  column_name: string;
  numeric: boolean;
}

/**
 * Every sequence the tables of `schema` use: through a column default (pg_depend records the
 * sequence a `nextval('…'::regclass)` default names) or as identity/owned sequence. Catalog only.
 */
export async function readTableSequences(client: Client, schema = 'public'): Promise<TableSequence[]> {
  const known = recalled<TableSequence[]>(client, `sequences:${schema}`);
  if (known) return known;
  const { rows } = await client.query(tableSequencesSql(schema));
  return tableSequencesFrom(rows);
}

/** {@link readTableSequences}' query: one statement without parameters, to send with others. */
export function tableSequencesSql(schema: string): string {
  return `with uses as (
       select ad.adrelid as rel, ad.adnum as attnum, d.refobjid as seq
         from pg_depend d join pg_attrdef ad on ad.oid = d.objid
        where d.classid = 'pg_attrdef'::regclass and d.refclassid = 'pg_class'::regclass
       union
       select d.refobjid, d.refobjsubid, d.objid
         from pg_depend d
        where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
          and d.deptype in ('a', 'i') and d.refobjsubid > 0)
     select format('%I.%I', sn.nspname, s.relname) as sequence, sn.nspname || '.' || s.relname as name,
            c.relname as table_name,
            case when c.relkind = 'p' then '' else 'only ' end || format('%I.%I', n.nspname, c.relname) as source,
            a.attname as column_name,
            a.atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype) as numeric
       from uses u
       join pg_class s on s.oid = u.seq and s.relkind = 'S'
       join pg_namespace sn on sn.oid = s.relnamespace
       join pg_class c on c.oid = u.rel and c.relkind in ('r', 'p') and not c.relispartition
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum = u.attnum and not a.attisdropped
      where n.nspname = ${quoteLiteral(schema)}
      order by 2, 3, 5`;
}

/** The rows of {@link tableSequencesSql} as sequences; with `keep`, readTableSequences asks no more. */
export function tableSequencesFrom(
  rows: readonly Record<string, unknown>[],
  keep?: { client: Client; schema: string },
): TableSequence[] {
  const out = new Map<string, { sequence: string; name: string; uses: SequenceUse[] }>();
  for (const r of rows as unknown as UseRow[]) {
    const s = out.get(r.sequence) ?? { sequence: r.sequence, name: r.name, uses: [] };
    s.uses.push({ table: r.table_name, source: r.source, column: r.column_name, numeric: r.numeric });
    out.set(r.sequence, s);
  }
  const result = [...out.values()];
  if (keep) remember(keep.client, `sequences:${keep.schema}`, result);
  return result;
}

/** A sequence's counter: the value the next `nextval` returns. */
export interface SequenceState {
  readonly lastValue: bigint;
  readonly isCalled: boolean;
  readonly increment: bigint;
  readonly next: bigint;
}

/** The state of each sequence (quoted names), in one query. */
export async function readSequenceStates(
  client: Client,
  sequences: readonly string[],
): Promise<Map<string, SequenceState>> {
  const [states] = await readTogether(client, sequenceStatesRead(sequences));
  return states;
}

/** {@link readSequenceStates} as a {@link Read}, to send along with other reads. */
export function sequenceStatesRead(sequences: readonly string[]): Read<Map<string, SequenceState>> {
  if (sequences.length === 0) return valueRead(new Map());
  return { sql: [statesSql(sequences)], from: (results) => statesFrom(results[0]!.rows, sequences) };
}

/** {@link readSequenceStates}' query (one statement, no parameters); `sequences` not empty. */
function statesSql(sequences: readonly string[]): string {
  return sequences
    .map(
      (s, i) =>
        `select ${i} as i, s.last_value::text, s.is_called, p.seqincrement::text as inc
             from ${s} s, pg_catalog.pg_sequence p where p.seqrelid = ${quoteLiteral(s)}::regclass`,
    )
    .join(' union all ');
}

function statesFrom(
  raw: readonly Record<string, unknown>[],
  sequences: readonly string[],
): Map<string, SequenceState> {
  const rows = raw as unknown as { i: number; last_value: string; is_called: boolean; inc: string }[];
  return new Map(
    rows.map((r) => {
      const lastValue = BigInt(r.last_value);
      const increment = BigInt(r.inc);
      const next = r.is_called ? lastValue + increment : lastValue;
      return [sequences[Number(r.i)]!, { lastValue, isCalled: r.is_called, increment, next }];
    }),
  );
}

/** The highest and lowest value stored in the numeric columns that use the sequence, as SQL. */
function extremesSql(seq: TableSequence): { max: string; min: string } | null {
  const cols = seq.uses.filter((u) => u.numeric);
  if (cols.length === 0) return null;
  const union = (agg: string): string =>
    `(select ${agg}(x) from (${cols.map((u) => `select ${agg}(${quoteIdent(u.column)})::numeric as x from ${u.source}`).join(' union all ')}) m)`;
  return { max: union('max'), min: union('min') };
}

/** The highest and lowest stored value per sequence (null: no rows or no numeric column), in one query. */
export async function readStoredExtremes(
  client: Client,
  sequences: readonly TableSequence[],
): Promise<Map<string, { max: bigint | null; min: bigint | null }>> {
  const sql = extremesQuery(sequences);
  return extremesFrom(sql === null ? [] : (await client.query(sql)).rows, sequences);
}

/** {@link readStoredExtremes}' query (one statement, no parameters); null when there is nothing to read. */
function extremesQuery(sequences: readonly TableSequence[]): string | null {
  const parts = sequences.flatMap((s, i) => {
    const e = extremesSql(s);
    return e ? [`select ${i} as i, ${e.max}::text as max, ${e.min}::text as min`] : [];
  });
  return parts.length === 0 ? null : parts.join(' union all ');
}

function extremesFrom(
  raw: readonly Record<string, unknown>[],
  sequences: readonly TableSequence[],
): Map<string, { max: bigint | null; min: bigint | null }> {
  const out = new Map(
    sequences.map((s) => [s.sequence, { max: null as bigint | null, min: null as bigint | null }]),
  );
  for (const r of raw as unknown as { i: number; max: string | null; min: string | null }[]) {
    out.set(sequences[Number(r.i)]!.sequence, {
      max: r.max === null ? null : BigInt(r.max),
      min: r.min === null ? null : BigInt(r.min),
    });
  }
  return out;
}

type Extremes = Map<string, { max: bigint | null; min: bigint | null }>;

/** The states of `sequences` and their stored extremes, as one {@link Read} (two statements). */
export function statesAndExtremesRead(
  sequences: readonly TableSequence[],
): Read<[Map<string, SequenceState>, Extremes]> {
  const names = sequences.map((s) => s.sequence);
  const extremes = extremesQuery(sequences);
  if (names.length === 0) return valueRead([new Map(), extremesFrom([], sequences)]);
  return {
    sql: [statesSql(names), ...(extremes ? [extremes] : [])],
    from: (results) => [
      statesFrom(results[0]!.rows, names),
      extremesFrom(extremes ? results[1]!.rows : [], sequences),
    ],
  };
}

/**
 * Whether a counter is safe: its next value is past every stored value (in the direction it counts)
 * and not behind `floor` (local's next value, when there is one).
 */
export function counterIsSafe(
  state: SequenceState,
  stored: { max: bigint | null; min: bigint | null },
  floor: bigint | null,
): boolean {
  if (state.increment > 0n) {
    return (stored.max === null || state.next > stored.max) && (floor === null || state.next >= floor);
  }
  return (stored.min === null || state.next < stored.min) && (floor === null || state.next <= floor);
}

/**
 * SQL (a DO block, run server-side after the load) that restarts `seq` at `next`, or past every stored
 * value when the rows hold higher ones (rows inserted with explicit ids never advance a sequence).
 * ALTER SEQUENCE … RESTART is transactional, unlike setval(): a push that rolls back leaves the
 * counter as it was.
 */
export function restartSql(seq: TableSequence, next: bigint): string {
  const e = extremesSql(seq);
  return `do $crm_env$ declare inc bigint; nxt numeric := ${next}; top numeric; bottom numeric; begin
      select seqincrement into inc from pg_catalog.pg_sequence where seqrelid = ${quoteLiteral(seq.sequence)}::regclass;
      ${e ? `top := ${e.max}; bottom := ${e.min};` : ''}
      if inc > 0 and top is not null and top + inc > nxt then nxt := top + inc; end if;
      if inc < 0 and bottom is not null and bottom + inc < nxt then nxt := bottom + inc; end if;
      execute format('alter sequence %s restart with %s', ${quoteLiteral(seq.sequence)}, nxt);
    end $crm_env$`;
}

/** `setval` statements that put each sequence back where it is now (for backup files). */
export async function setvalStatements(client: Client, sequences: readonly TableSequence[]): Promise<string> {
  const [text] = await readTogether(client, setvalRead(sequences));
  return text;
}

/** {@link setvalStatements} as a {@link Read}, to send along with other reads. */
export function setvalRead(sequences: readonly TableSequence[]): Read<string> {
  const states = sequenceStatesRead(sequences.map((s) => s.sequence));
  return {
    sql: states.sql,
    from: (results) => {
      const now = states.from(results);
      return sequences
        .map((s) => {
          const v = now.get(s.sequence)!;
          return `SELECT pg_catalog.setval(${quoteLiteral(s.sequence)}, ${v.lastValue}, ${v.isCalled});\n`;
        })
        .join('');
    },
  };
}

/** One sequence as verify compares it: both counters and the highest value the cloud's rows hold. */
export interface SequenceComparison {
  /** `schema.name`. */
  readonly sequence: string;
  /** The value the next insert draws, per side (null: the sequence is not used there). */
  readonly localNext: string | null;
  readonly cloudNext: string | null;
  /** The highest (or, counting down, lowest) value stored in the cloud's columns that use it. */
  readonly cloudHighest: string | null;
  /** The cloud's next value is past every stored value and not behind local's. */
  readonly ok: boolean;
}

/**
 * Compares the counters of every sequence the public tables use, on two open clients; `cloudExtra`
 * is read on the cloud in the same round trip as its counters (verify's test users).
 */
export async function compareSequences<T = undefined>(
  local: Client,
  cloud: Client,
  cloudExtra: Read<T> = valueRead(undefined as T),
): Promise<{ sequences: SequenceComparison[]; extra: T }> {
  const [mine, theirs] = await Promise.all([readTableSequences(local), readTableSequences(cloud)]);
  const [ls, [[cs, stored], extra]] = await Promise.all([
    readSequenceStates(
      local,
      mine.map((s) => s.sequence),
    ),
    readTogether(cloud, statesAndExtremesRead(theirs), cloudExtra),
  ]);
  const names = new Map([...mine, ...theirs].map((s) => [s.sequence, s.name]));
  const sequences = [...names]
    .sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([seq, name]) => {
      const l = ls.get(seq) ?? null;
      const c = cs.get(seq) ?? null;
      const extremes = stored.get(seq) ?? { max: null, min: null };
      const highest = c && c.increment < 0n ? extremes.min : extremes.max;
      return {
        sequence: name,
        localNext: l ? String(l.next) : null,
        cloudNext: c ? String(c.next) : null,
        cloudHighest: highest === null ? null : String(highest),
        ok: l !== null && c !== null && counterIsSafe(c, extremes, l.next),
      };
    });
  return { sequences, extra };
}
