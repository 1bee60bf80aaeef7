/**
 * Rebuilds the `public` schema from the migrations, like `supabase db reset` does for local: every
 * object the project owns in `public` is dropped, the history is cleared, and all migrations are applied
 * again — in ONE transaction, so a failing migration leaves the database exactly as it was.
 * Objects in `auth`, `storage` and `extensions` (Supabase's) are never touched.
 */
import type { Client } from '../db/connect.js';
import { qualify } from '../db/sql.js';
import type { MigrationFile } from './files.js';
import type { AppliedMigration } from './runner.js';
import { applyInOpenTransaction } from './runner.js';

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
  readonly applied: readonly AppliedMigration[];
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
  const applied = await applyInOpenTransaction(client, files);
  return { dropped, applied };
}
