/**
 * Applies sql/base-schema.sql: the parts of a Supabase database that plain PostgreSQL lacks (API roles,
 * `extensions`, `auth.users`/`auth.identities`, `auth.uid()`…, `storage`, default grants).
 */
import { readFile } from 'node:fs/promises';
import { withClient } from '../db/connect.js';
import { BASE_SCHEMA_FILE } from '../paths.js';

export type BaseSchemaResult = 'applied' | 'skipped-real-supabase';

/** True when the database already has Supabase's own auth schema (GoTrue keeps its history there). */
export async function isRealSupabase(url: string): Promise<boolean> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ found: boolean }>(
      `select to_regclass('auth.schema_migrations') is not null as found`,
    );
    return rows[0]!.found;
  });
}

/**
 * Applies the base schema with a superuser URL. Idempotent; skipped on real Supabase.
 */
export async function applyBaseSchema(superuserUrl: string): Promise<BaseSchemaResult> {
  if (await isRealSupabase(superuserUrl)) return 'skipped-real-supabase';
  const sql = await readFile(BASE_SCHEMA_FILE, 'utf8');
  await withClient(superuserUrl, async (c) => {
    await c.query(sql);
  });
  return 'applied';
}
