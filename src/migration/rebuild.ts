/**
 * Rebuilds the `public` schema from the migrations, like `supabase db reset` does for local: every
 * object the project owns in `public` is dropped, the history is cleared, and all migrations are applied
 * again — in ONE transaction, so a failing migration leaves the database exactly as it was.
 * Objects in `auth`, `storage` and `extensions` (Supabase's) are never touched.
 *
 * Files that cannot run in a transaction stay inside it too, as far as PostgreSQL allows: on the schema
 * just emptied in this transaction no other session sees the tables, so CREATE/DROP INDEX CONCURRENTLY run
 * without CONCURRENTLY (the same index) and REINDEX/VACUUM/CLUSTER are skipped (nothing to maintain). Only a
 * file with a statement that has no in-transaction form at all (ALTER SYSTEM, CREATE DATABASE, tablespaces)
 * is left for after the commit: `afterCommit`, for the caller to apply with applyOutsideFiles.
 */
import type { Client } from '../db/connect.js';
import { qualify } from '../db/sql.js';
import type { MigrationFile } from './files.js';
import type { FileOutcome } from './apply.js';
import { applyInOpenTransaction } from './apply.js';

/** Drops what the migrations created in `public`: views, tables, functions, sequences, types. */
async function dropPublicObjects(client: Client): Promise<number> {
  let dropped = 0;
  const run = async (sql: string, kind: string): Promise<void> => {
    const { rows } = await client.query<{ schema: string; name: string; args?: string }>(sql);
    for (const r of rows) {
      const target =
        r.args === undefined ? qualify(r.schema, r.name) : `${qualify(r.schema, r.name)}(${r.args})`;
      await client.query(`drop ${kind} if exists ${target} cascade`);
      dropped++;
    }
  };
  // Objects that belong to an extension are the extension's business; skip them.
  const relations = (relkinds: string): string =>
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in (${relkinds}) and not c.relispartition
        and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')`;
  await run(relations(`'m'`), 'materialized view');
  await run(relations(`'v'`), 'view');
  await run(relations(`'r', 'p', 'f'`), 'table');
  await run(relations(`'S'`), 'sequence');
  await run(
    `select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`,
    'routine',
  );
  await run(
    `select n.nspname as schema, t.typname as name from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = 'public' and t.typtype in ('e', 'd', 'c', 'r')
        and (t.typrelid = 0 or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
        and not exists (select 1 from pg_depend d where d.objid = t.oid and d.deptype = 'e')`,
    'type',
  );
  return dropped;
}

export interface RebuildResult {
  readonly dropped: number;
  /** Files applied inside the transaction. */
  readonly applied: readonly FileOutcome[];
  /** Files to apply on their own once the caller has committed (none for CONCURRENTLY files). */
  readonly afterCommit: readonly MigrationFile[];
}

/** Drops and re-applies inside the caller's open transaction. */
export async function rebuildPublicSchema(
  client: Client,
  files: readonly MigrationFile[],
): Promise<RebuildResult> {
  const dropped = await dropPublicObjects(client);
  const { rows } = await client.query<{ ok: boolean }>(
    `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`,
  );
  if (rows[0]!.ok) await client.query('delete from supabase_migrations.schema_migrations');
  const { files: applied, afterCommit } = await applyInOpenTransaction(client, files);
  return { dropped, applied, afterCommit };
}
