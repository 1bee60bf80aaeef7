/**
 * Order-independent content checksums: the same rows in any physical order give the same checksum,
 * and any changed value, added or missing row changes it. Computed by the server, so no data travels.
 */
import type { Client } from './connect.js';
import type { Read } from './read-together.js';
import { readTogether, valueRead } from './read-together.js';
import type { TableInfo } from './catalog.js';
import { quoteIdent } from './sql.js';

export interface TableChecksum {
  /** Table name as in the catalog (unquoted). */
  readonly table: string;
  readonly rows: number;
  /** Sum of 64-bit row hashes, as decimal text (exact numeric). */
  readonly checksum: string;
}

/**
 * Output settings that make a row's text form identical on any server: the same timestamp shows
 * differently under another TimeZone, floats under another extra_float_digits.
 */
export const CANONICAL_OUTPUT_SQL = `select set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false),
      set_config('IntervalStyle', 'postgres', false), set_config('extra_float_digits', '1', false),
      set_config('bytea_output', 'hex', false)`;

export async function useCanonicalOutput(client: Client): Promise<void> {
  await client.query(CANONICAL_OUTPUT_SQL);
}

/**
 * Row text with columns in name order, so two tables whose columns were added in another order still
 * compare equal. Each row hashes with hashtextextended (64-bit); the sum is exact and order-free.
 */
export function checksumSql(table: TableInfo, columns?: readonly string[], where?: string): string {
  return `select count(*)::bigint::text as rows, coalesce(sum(${rowHashSql(table, columns)}::numeric), 0)::text as checksum from ${table.source}${where ? ` where ${where}` : ''}`;
}

/** One row's 64-bit hash, as {@link checksumSql} sums it (columns in name order). */
export function rowHashSql(table: TableInfo, columns?: readonly string[]): string {
  const cols = [...(columns ?? table.columns.map((c) => c.name))].sort();
  const row = cols.length === 0 ? `''` : `row(${cols.map(quoteIdent).join(', ')})::text`;
  return `hashtextextended(${row}, 0)`;
}

/**
 * Checksums of several tables on one client, in the given order, in ONE query (one round trip: on a
 * cloud 20 ms away, thirteen separate queries would cost a quarter of a second). `whereFor` limits a
 * table to some rows (a backup's test users), as trusted SQL.
 */
export async function checksumTables(
  client: Client,
  tables: readonly TableInfo[],
  columnsFor?: (t: TableInfo) => readonly string[],
  whereFor?: (t: TableInfo) => string | undefined,
): Promise<TableChecksum[]> {
  const [sums] = await readTogether(client, checksumsRead(tables, columnsFor, whereFor));
  return sums;
}

/** {@link checksumTables} as a {@link Read}, to send along with other reads (canonical output first). */
export function checksumsRead(
  tables: readonly TableInfo[],
  columnsFor?: (t: TableInfo) => readonly string[],
  whereFor?: (t: TableInfo) => string | undefined,
): Read<TableChecksum[]> {
  if (tables.length === 0) return valueRead([]);
  const parts = tables.map(
    (t, i) => `select ${i} as i, * from (${checksumSql(t, columnsFor?.(t), whereFor?.(t))}) s${i}`,
  );
  return {
    sql: [CANONICAL_OUTPUT_SQL, parts.join(' union all ')],
    from: (results) => {
      const rows = results[1]!.rows as { i: number; rows: string; checksum: string }[];
      const byIndex = new Map(rows.map((r) => [Number(r.i), r]));
      return tables.map((t, i) => {
        const r = byIndex.get(i)!;
        return { table: t.name, rows: Number(r.rows), checksum: r.checksum };
      });
    },
  };
}
