/**
 * The Supabase CLI's migration history table, written exactly as the CLI writes it
 * (`apps/cli-go/pkg/migration/history.go`), so that `supabase migration list` and crm-env agree.
 */
import type { Client } from '../db/connect.js';

export interface HistoryRow {
  readonly version: string;
  readonly name: string | null;
  readonly statements: readonly string[] | null;
}

/** Creates the table as the CLI does (idempotent, short lock timeout so a busy table fails fast). */
export async function ensureHistoryTable(client: Client): Promise<void> {
  await client.query(`
    set local lock_timeout = '4s';
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
    alter table supabase_migrations.schema_migrations add column if not exists statements text[];
    alter table supabase_migrations.schema_migrations add column if not exists name text;
  `);
}

/** Applied migrations, oldest first; empty when the history table does not exist. */
export async function readHistory(client: Client): Promise<HistoryRow[]> {
  const { rows: exists } = await client.query<{ ok: boolean }>(
    `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`,
  );
  if (!exists[0]!.ok) return [];
  const { rows: cols } = await client.query<{ column_name: string }>(
    `select column_name from information_schema.columns
      where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'`,
  );
  const has = new Set(cols.map((c) => c.column_name));
  const { rows } = await client.query<HistoryRow>(
    `select version, ${has.has('name') ? 'name' : 'null::text as name'}, ${has.has('statements') ? 'statements' : 'null::text[] as statements'}
       from supabase_migrations.schema_migrations order by version`,
  );
  return rows;
}

export async function insertHistory(
  client: Client,
  version: string,
  name: string,
  statements: readonly string[],
): Promise<void> {
  await client.query(
    'insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)',
    [version, name, statements],
  );
}
