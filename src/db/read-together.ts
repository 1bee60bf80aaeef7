/**
 * Several reads in one round trip: each {@link Read} names its statements (no parameters) and how to
 * turn their results into a value; {@link readTogether} sends them all as one simple query and hands
 * each read its own results. On a cloud 20 ms away every round trip saved is 20 ms; the modules that
 * read something a command may want along with other reads export it as a Read (checksums, sequence
 * states, the test users), and keep their one-read functions on top of it.
 */
import type { QueryResult } from 'pg';
import type { Client } from './connect.js';

export interface Read<T> {
  /** Statements without parameters, sent in this order (none: `from` gets no results). */
  readonly sql: readonly string[];
  /** The value, from the results of `sql` (one per statement, same order). */
  from(results: readonly QueryResult[]): T;
}

type Values<R extends readonly Read<unknown>[]> = { [K in keyof R]: R[K] extends Read<infer T> ? T : never };

/**
 * Runs every read's statements as ONE simple query (one round trip) and returns their values in
 * order. A failing statement fails them all (the server skips the rest of the query).
 */
export async function readTogether<R extends readonly Read<unknown>[]>(
  client: Client,
  ...reads: R
): Promise<Values<R>> {
  const all = readsOf(...reads);
  let results: QueryResult[] = [];
  if (all.sql.length > 0) {
    const raw = (await client.query(all.sql.join(';\n'))) as unknown as QueryResult | QueryResult[];
    // node-postgres returns one result for a single statement, an array for several.
    results = Array.isArray(raw) ? raw : [raw];
  }
  return all.from(results);
}

/** A read with no statements whose value is `value` (nothing to ask the server). */
export function valueRead<T>(value: T): Read<T> {
  return { sql: [], from: () => value };
}

/** A read whose value is `f` of `read`'s (same statements). */
export function mapRead<T, U>(read: Read<T>, f: (value: T) => U): Read<U> {
  return { sql: read.sql, from: (results) => f(read.from(results)) };
}

/** Several reads as one (their statements in order; the value: their values in order). */
export function readsOf<R extends readonly Read<unknown>[]>(...reads: R): Read<Values<R>> {
  return {
    sql: reads.flatMap((r) => r.sql),
    from: (results) => {
      let at = 0;
      return reads.map((r) => {
        const mine = results.slice(at, at + r.sql.length);
        at += r.sql.length;
        return r.from(mine);
      }) as Values<R>;
    },
  };
}
