/**
 * Order-independent content checksums: the same rows in any physical order give the same checksum,
 * and any changed value, added or missing row changes it. Computed by the server, so no data travels.
 */
import type { Client } from './connect.js';
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
export async function useCanonicalOutput(client: Client): Promise<void> {
  await client.query(`select set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false),
      set_config('IntervalStyle', 'postgres', false), set_config('extra_float_digits', '1', false),
      set_config('bytea_output', 'hex', false)`);
}

/**
 * Row text with columns in name order, so two tables whose columns were added in another order still
 * compare equal. Each row hashes with hashtextextended (64-bit); the sum is exact and order-free.
 */
export function checksumSql(table: TableInfo, columns?: readonly string[]): string {
  const cols = [...(columns ?? table.columns.map((c) => c.name))].sort();
  const row = cols.length === 0 ? `''` : `row(${cols.map(quoteIdent).join(', ')})::text`;
  return `select count(*)::bigint::text as rows, coalesce(sum(hashtextextended(${row}, 0)::numeric), 0)::text as checksum from ${table.qualified}`;
}

/** Checksums of several tables on one client, in the given order. */
export async function checksumTables(
  client: Client,
  tables: readonly TableInfo[],
  columnsFor?: (t: TableInfo) => readonly string[],
): Promise<TableChecksum[]> {
  await useCanonicalOutput(client);
  const out: TableChecksum[] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ rows: string; checksum: string }>(checksumSql(t, columnsFor?.(t)));
    out.push({ table: t.name, rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum });
  }
  return out;
}
