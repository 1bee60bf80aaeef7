/**
 * The Supabase CLI's migration history table, written exactly as the CLI writes it
 * (`apps/cli-go/pkg/migration/history.go`), so that `supabase migration list` and crm-env agree.
 */
import type { Client } from '../db/connect.js';
import { OperationError } from '../errors.js';
import type { MigrationFile } from './files.js';

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

export interface MigrationPlan {
  readonly applied: readonly HistoryRow[];
  readonly pending: readonly MigrationFile[];
}

/**
 * Compares local files with the target's history, with the Supabase CLI's rules
 * (`FindPendingMigrations`): a history version without a local file is an error; a pending file older
 * than the newest applied version is an error unless `includeAll`.
 */
export function planMigrations(
  history: readonly HistoryRow[],
  files: readonly MigrationFile[],
  includeAll: boolean,
): MigrationPlan {
  const local = new Set(files.map((f) => f.version));
  const remoteOnly = history.filter((h) => !local.has(h.version)).map((h) => h.version);
  if (remoteOnly.length > 0) {
    throw new OperationError(
      `The target's migration history has version ${remoteOnly.join(', ')} with no file in supabase/migrations; restore the file or run \`supabase migration repair --status reverted ${remoteOnly[0]}\`.`,
    );
  }
  const appliedVersions = new Set(history.map((h) => h.version));
  const pending = files.filter((f) => !appliedVersions.has(f.version));
  const newest = history.at(-1)?.version;
  if (!includeAll && newest !== undefined) {
    const early = pending.filter((f) => f.version < newest);
    if (early.length > 0) {
      throw new OperationError(
        `Pending migration ${early[0]!.fileName} is older than the newest applied one (${newest}); rename it to a newer timestamp or pass --include-all to apply it anyway.`,
      );
    }
  }
  return { applied: history, pending };
}
