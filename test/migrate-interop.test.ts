/**
 * Interop with the real Supabase CLI (Step 2's acceptance): both tools share
 * supabase_migrations.schema_migrations, so either can continue where the other stopped.
 */
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { CrmEnvError } from '../src/errors.js';
import { migrateUp } from '../src/migration/runner.js';
import { createTestDatabase } from './support/db.js';
import {
  cliDbUrl,
  migrationProject,
  parseMigrationList,
  repoMigrationsProject,
  repoProjectWith,
  supabaseCli,
  tableSql,
} from './support/migration-project.js';

const REPO_FILES = readdirSync(path.resolve('supabase/migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();
const versions = (names: readonly string[]): string[] => names.map((n) => n.slice(0, 14));
const CONCURRENTLY = '20990101000009_contacts_last_seen_index.sql';
const CONCURRENTLY_SQL =
  'create index concurrently if not exists contacts_last_seen_idx on public.contacts (last_seen);\n';

/** True when the index exists and its build finished (a failed CONCURRENTLY build leaves it invalid). */
async function validIndex(url: string, name: string): Promise<boolean> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ ok: boolean }>(
      `select i.indisvalid as ok from pg_index i where i.indexrelid = to_regclass($1)`,
      [`public.${name}`],
    );
    return rows[0]?.ok === true;
  });
}

async function history(url: string): Promise<{ version: string; n: number }[]> {
  return withClient(
    url,
    async (c) =>
      (
        await c.query<{ version: string; n: number }>(
          'select version, count(*)::int as n from supabase_migrations.schema_migrations group by 1 order by 1',
        )
      ).rows,
  );
}

describe.concurrent('migrations: crm-env and the Supabase CLI interoperate', () => {
  it('after `supabase db push` applied the first files, migrateUp applies exactly the rest', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const first = REPO_FILES.slice(0, -1);
    const p = repoMigrationsProject({ local: url }, first);
    await supabaseCli(['db', 'push', '--db-url', cliDbUrl(url), '--yes'], p.dir);
    expect((await history(url)).map((h) => h.version)).toEqual(versions(first));

    const rest = REPO_FILES.slice(-1);
    for (const n of rest) cpSync(path.resolve('supabase/migrations', n), path.join(p.migrationsDir, n));
    const result = await migrateUp(url, p.migrationsDir);
    expect(result.alreadyApplied).toBe(first.length);
    expect(result.files.map((a) => [a.fileName, a.status])).toEqual(rest.map((n) => [n, 'applied']));
    expect(await history(url)).toEqual(versions(REPO_FILES).map((version) => ({ version, n: 1 })));
  });

  it('after migrateUp (a CONCURRENTLY file included), `supabase migration list` shows every migration applied', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = repoProjectWith({ local: url }, { [CONCURRENTLY]: CONCURRENTLY_SQL });
    const all = [...REPO_FILES, CONCURRENTLY];
    const result = await migrateUp(url, p.migrationsDir);
    expect(result.files.map((f) => [f.fileName, f.status, f.outsideTransaction !== undefined])).toEqual(
      all.map((n) => [n, 'applied', n === CONCURRENTLY]),
    );
    expect(await validIndex(url, 'contacts_last_seen_idx')).toBe(true);
    const list = parseMigrationList(
      await supabaseCli(['migration', 'list', '--db-url', cliDbUrl(url)], p.dir),
    );
    expect(list.local).toEqual(versions(all));
    expect(list.remote).toEqual(versions(all));
    // And the CLI finds nothing left to push: its push succeeds and changes no history row.
    const history = (): Promise<unknown[]> =>
      withClient(
        url,
        async (c) =>
          (await c.query('select * from supabase_migrations.schema_migrations order by version')).rows,
      );
    const before = await history();
    await supabaseCli(['db', 'push', '--db-url', cliDbUrl(url), '--yes'], p.dir);
    expect(await history()).toEqual(before);
  });

  it('a syntax error in the last pending file leaves no new table and no new history row', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const broken = '20990101000003_broken.sql';
    const p = migrationProject(
      {
        '20990101000001_one.sql': tableSql('one'),
        '20990101000002_two.sql': tableSql('two'),
        // Line 4 has the syntax error.
        [broken]:
          '-- a broken migration\n\ncreate table public.three (\n  id int primary key,,\n  note text\n);\n',
      },
      { local: url },
    );
    const err = await migrateUp(url, p.migrationsDir).catch((e: unknown) => e);
    // Found by the parser before anything runs: the error carries the file and the line.
    expect(err).toBeInstanceOf(CrmEnvError);
    expect(err).toMatchObject({ exitCode: 1, file: broken, line: 4 });
    const state = await withClient(url, async (c) => ({
      tables: (await c.query(`select 1 from pg_class where relnamespace = 'public'::regnamespace`)).rowCount,
      history: (await c.query(`select to_regclass('supabase_migrations.schema_migrations') as t`)).rows[0],
    }));
    expect(state).toEqual({ tables: 0, history: { t: null } });
  });
});
