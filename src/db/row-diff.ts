/**
 * Which rows differ between two copies of a table, named by primary key, found by the servers.
 *
 * Each row's primary key hashes to 64 bits; the hash space is cut into ranges (the top bits of the key
 * hash). Both servers sum each range's row hashes in one query each, and only ranges whose count or
 * sum differ are cut further, until they are small enough to list their (key, row hash) pairs, which
 * are compared here. A table with one changed row among a million costs two queries per server; equal
 * tables cost none (their checksums, from verify, already match). A range present on one side only
 * is counted without listing it. Nothing but counts, sums and the keys of differing ranges travels.
 *
 * Both clients must be in the snapshot the caller compares and use canonical output
 * (src/db/checksum.ts), so that a row's text, and so its hash, is the same on both servers.
 */
import type { Client } from './connect.js';
import type { TableInfo } from './catalog.js';
import { rowHashSql } from './checksum.js';
import { quoteIdent } from './sql.js';

/** A row's primary key, column → value. */
export type RowKey = Readonly<Record<string, unknown>>;

export interface RowDiffKind {
  readonly count: number;
  /** The first keys found (at most the limit), in key order. */
  readonly keys: readonly RowKey[];
}

export interface TableDiff {
  readonly table: string;
  /** Rows on the first side (local) only. */
  readonly missing: RowDiffKind;
  /** Rows on the second side (cloud) only. */
  readonly extra: RowDiffKind;
  /** Rows on both sides with different content. */
  readonly changed: RowDiffKind;
  /** False when differences were too widespread to count them all: counts are then lower bounds. */
  readonly complete: boolean;
  /** Queries sent, both servers together. */
  readonly queries: number;
  /** Why no rows could be named (no primary key, key columns missing on one side). */
  readonly skipped?: string;
}

export interface RowDiffOptions {
  /** Keys listed per kind (default 10). */
  readonly limit?: number;
  /** Ranges are listed once they hold at most this many rows in all (default 5,000). */
  readonly leafRows?: number;
}

/** Rows a range should hold after one more cut; at most 2^12 ranges per cut. */
const RANGE_ROWS = 500;
const MAX_CUT_BITS = 12;

interface Side {
  readonly client: Client;
  readonly table: TableInfo;
  readonly rows: number;
}

interface Range {
  /** Top `bits` bits of the key hash, as decimal text (a signed bigint). */
  readonly prefix: string;
  readonly rows: number;
}

interface DiffState {
  readonly key: readonly string[];
  readonly columns: readonly string[];
  queries: number;
  readonly found: Record<'missing' | 'extra' | 'changed', { count: number; keys: RowKey[] }>;
  /** Ranges on one side only: counted, listed later if keys are still wanted. */
  readonly oneSided: { side: 0 | 1; bits: number; prefix: string }[];
}

/** `(hash of the key, hash of the row[, key as JSON and the key columns])` for every row, as a subquery. */
function hashed(state: DiffState, side: Side, withKey: boolean): string {
  const keyCols = state.key.map(quoteIdent).join(', ');
  const keyJson = `json_build_array(${keyCols})::text`;
  return `(select hashtextextended(${keyJson}, 0) as h, ${rowHashSql(side.table, state.columns)} as r${withKey ? `, ${keyJson} as k, ${keyCols}` : ''} from ${side.table.source}) x`;
}

/** Rows whose key hash starts with one of `prefixes` (`bits` long); all rows at depth 0. */
function inRanges(bits: number): string {
  return bits === 0 ? 'true' : `(h >> ${64 - bits}) = any($1::bigint[])`;
}

/** Per range of `bits + cut` bits within the candidate ranges: rows and the sum of row hashes. */
async function rangeSums(
  state: DiffState,
  side: Side,
  bits: number,
  cut: number,
  prefixes: readonly string[],
): Promise<Map<string, { n: number; s: string }>> {
  state.queries++;
  const { rows } = await side.client.query<{ b: string; n: number; s: string }>(
    `select (h >> ${64 - bits - cut})::text as b, count(*)::int as n, sum(r::numeric)::text as s
       from ${hashed(state, side, false)} where ${inRanges(bits)} group by 1`,
    bits === 0 ? [] : [prefixes],
  );
  return new Map(rows.map((r) => [r.b, { n: r.n, s: r.s }]));
}

/** (key → row hash) of the rows in the ranges, in key order; at most `limit` of them. */
async function listRows(
  state: DiffState,
  side: Side,
  bits: number,
  prefixes: readonly string[],
  limit?: number,
): Promise<Map<string, string>> {
  state.queries++;
  const params: unknown[] = bits === 0 ? [] : [prefixes];
  if (limit !== undefined) params.push(limit);
  const { rows } = await side.client.query<{ k: string; r: string }>(
    `select k, r::text as r from ${hashed(state, side, true)} where ${inRanges(bits)}
      order by ${state.key.map(quoteIdent).join(', ')}${limit === undefined ? '' : ` limit $${params.length}`}`,
    params,
  );
  return new Map(rows.map((r) => [r.k, r.r]));
}

function keyOf(state: DiffState, json: string): RowKey {
  const values = JSON.parse(json) as unknown[];
  return Object.fromEntries(state.key.map((name, i) => [name, values[i]]));
}

function note(state: DiffState, kind: 'missing' | 'extra' | 'changed', json: string, limit: number): void {
  const f = state.found[kind];
  f.count++;
  if (f.keys.length < limit) f.keys.push(keyOf(state, json));
}

/** Compares the listed rows of both sides (each in key order). */
function compareListed(
  state: DiffState,
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
  limit: number,
): void {
  for (const [k, ra] of a) {
    const rb = b.get(k);
    if (rb === undefined) note(state, 'missing', k, limit);
    else if (ra !== rb) note(state, 'changed', k, limit);
  }
  for (const k of b.keys()) if (!a.has(k)) note(state, 'extra', k, limit);
}

/** Cuts the candidate ranges once; returns the ranges that differ and hold rows on both sides. */
async function narrow(
  state: DiffState,
  sides: readonly [Side, Side],
  bits: number,
  cut: number,
  candidates: readonly Range[],
): Promise<Range[]> {
  const prefixes = candidates.map((c) => c.prefix);
  const [a, b] = await Promise.all([
    rangeSums(state, sides[0], bits, cut, prefixes),
    rangeSums(state, sides[1], bits, cut, prefixes),
  ]);
  const next: Range[] = [];
  for (const prefix of new Set([...a.keys(), ...b.keys()])) {
    const [ra, rb] = [a.get(prefix), b.get(prefix)];
    if (ra && rb && ra.n === rb.n && ra.s === rb.s) continue;
    if (ra && rb) next.push({ prefix, rows: Math.max(ra.n, rb.n) });
    else {
      state.found[rb ? 'extra' : 'missing'].count += (ra ?? rb)!.n;
      state.oneSided.push({ side: rb ? 1 : 0, bits: bits + cut, prefix });
    }
  }
  return next.sort((x, y) => (BigInt(x.prefix) < BigInt(y.prefix) ? -1 : 1));
}

/** Names a few rows of the ranges found on one side only (already counted), while names are wanted. */
async function listOneSided(state: DiffState, sides: readonly [Side, Side], limit: number): Promise<void> {
  for (const side of [0, 1] as const) {
    const kind = side === 0 ? 'missing' : 'extra';
    const depths = [...new Set(state.oneSided.filter((r) => r.side === side).map((r) => r.bits))].sort();
    for (const bits of depths) {
      const wanted = limit - state.found[kind].keys.length;
      if (wanted <= 0) break;
      const prefixes = state.oneSided.filter((r) => r.side === side && r.bits === bits).map((r) => r.prefix);
      const rows = await listRows(state, sides[side], bits, prefixes, wanted);
      for (const k of rows.keys()) state.found[kind].keys.push(keyOf(state, k));
    }
  }
}

/** Ranges to list when differences are everywhere: the first ones, up to `budget` rows. */
function firstRanges(candidates: readonly Range[], budget: number): Range[] {
  const out: Range[] = [];
  let rows = 0;
  for (const c of candidates) {
    if (rows + c.rows > budget && out.length > 0) break;
    out.push(c);
    rows += c.rows;
  }
  return out;
}

/**
 * The rows that differ between `a` (local) and `b` (cloud) of one table, comparing `columns` (those
 * both sides have). Rows are named by `a`'s primary key.
 */
export async function diffTable(
  a: Side,
  b: Side,
  columns: readonly string[],
  options: RowDiffOptions = {},
): Promise<TableDiff> {
  const limit = options.limit ?? 10;
  const leafRows = options.leafRows ?? 5000;
  const key = a.table.primaryKey;
  const empty = (): { count: number; keys: RowKey[] } => ({ count: 0, keys: [] });
  const state: DiffState = {
    key,
    columns,
    queries: 0,
    found: { missing: empty(), extra: empty(), changed: empty() },
    oneSided: [],
  };
  const result = (complete: boolean, skipped?: string): TableDiff => ({
    table: a.table.name,
    ...state.found,
    complete,
    queries: state.queries,
    ...(skipped ? { skipped } : {}),
  });
  if (key.length === 0) return result(false, 'no primary key: rows cannot be named');
  if (!key.every((k) => columns.includes(k)))
    return result(false, 'the primary key columns are not on both sides');

  const sides = [a, b] as const;
  let bits = 0;
  let candidates: Range[] = [{ prefix: '0', rows: Math.max(a.rows, b.rows) }];
  let rows = candidates[0]!.rows;
  let complete = true;
  while (rows > leafRows) {
    const widest = Math.max(...candidates.map((c) => c.rows));
    const cut = Math.min(MAX_CUT_BITS, 64 - bits, Math.ceil(Math.log2(widest / RANGE_ROWS)));
    if (cut <= 0) break;
    candidates = await narrow(state, sides, bits, cut, candidates);
    bits += cut;
    const before = rows;
    rows = candidates.reduce((n, c) => n + c.rows, 0);
    if (rows > leafRows && rows > before / 2) {
      // Differences everywhere: cutting further would not narrow. Name rows of the first ranges only.
      complete = false;
      candidates = firstRanges(candidates, leafRows);
      break;
    }
  }
  if (candidates.length > 0) {
    const prefixes = candidates.map((c) => c.prefix);
    const [la, lb] = await Promise.all([
      listRows(state, a, bits, prefixes),
      listRows(state, b, bits, prefixes),
    ]);
    compareListed(state, la, lb, limit);
  }
  await listOneSided(state, sides, limit);
  return result(complete);
}
