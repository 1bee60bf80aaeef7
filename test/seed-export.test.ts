/**
 * `seed export` (issue 15, item 8): supabase/seed.sql holds exactly the rows `users create` makes.
 * The file is loaded into fresh migrated databases by stock psql and by the real Supabase CLI's
 * `db reset` (with the project's config.toml), and every public and auth table is compared by
 * checksum with a database where `users create` ran.
 */
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { Config } from '../src/config.js';
import type { TableInfo } from '../src/db/catalog.js';
import { readTables } from '../src/db/catalog.js';
import { useCanonicalOutput } from '../src/db/checksum.js';
import { quoteIdent } from '../src/db/sql.js';
import { withClient } from '../src/db/connect.js';
import { checkSeedFile, exportSeed, SEED_FILE_MARKER } from '../src/dev/seed-export.js';
import { createTestUsers } from '../src/dev/test-users.js';
import { checkTestUsers } from '../src/dev/users-check.js';
import { runMain, tempProject } from './support/cli.js';
import { testConfig } from './support/config.js';
import { createTestDatabase } from './support/db.js';
import { cliDbUrl, supabaseCli } from './support/migration-project.js';
import { psqlFile } from './support/psql.js';
import { tempDir } from './support/tmp.js';

/**
 * Columns whose value `users create` takes from the clock or a random source on every run, in the
 * file as in the command (the same SQL): they cannot be equal between two runs, so they are left out
 * of the checksums and checked on their own below.
 * - auth.users.encrypted_password: bcrypt with a fresh salt (extensions.gen_salt('bf')) — the file
 *   holds no hash, the server makes one when it is loaded;
 * - auth.users email_confirmed_at, created_at, updated_at: now(); confirmed_at is generated from
 *   email_confirmed_at;
 * - auth.identities id: the column default gen_random_uuid(); last_sign_in_at, created_at, updated_at: now().
 * Every other column of every public and auth table is compared.
 */
const PER_RUN: Readonly<Record<string, readonly string[]>> = {
  users: ['encrypted_password', 'email_confirmed_at', 'confirmed_at', 'created_at', 'updated_at'],
  identities: ['id', 'last_sign_in_at', 'created_at', 'updated_at'],
};

/**
 * Per table of `public` and `auth`: the row count and the MD5 of its rows' text (canonical output,
 * columns in name order, rows sorted, one per line), per-run auth columns left out. Equal values
 * mean byte-identical rows.
 */
async function contentChecksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    await useCanonicalOutput(c);
    const tables = [...(await readTables(c, 'public')), ...(await readTables(c, 'auth'))];
    const rowText = (t: TableInfo): string => {
      const cols = t.columns
        .map((col) => col.name)
        .filter((name) => !(t.schema === 'auth' && PER_RUN[t.name]?.includes(name)))
        .sort();
      return `row(${cols.map(quoteIdent).join(', ')})::text`;
    };
    const { rows } = await c.query<{ i: number; n: string; md5: string | null }>(
      tables
        .map(
          (t, i) =>
            `select ${i} as i, count(*)::text as n, md5(string_agg(r, E'\\n' order by r collate "C")) as md5
               from (select ${rowText(t)} as r from ${t.qualified}) s${i}`,
        )
        .join(' union all '),
    );
    return Object.fromEntries(rows.map((r) => [tables[Number(r.i)]!.qualified, `${r.n}:${r.md5}`]));
  });
}

/** Per test user: the password verifies against the stored bcrypt hash, and the per-run stamps are set. */
async function perRunColumns(url: string): Promise<unknown[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query(
      `select u.email, u.encrypted_password = extensions.crypt('TestPass123!', u.encrypted_password) as password_ok,
              left(u.encrypted_password, 4) as scheme,
              u.email_confirmed_at is not null and u.created_at is not null and u.updated_at is not null as user_stamps,
              i.id is not null and i.last_sign_in_at is not null and i.created_at is not null as identity_stamps
         from auth.users u join auth.identities i on i.user_id = u.id order by u.email`,
    );
    return rows;
  });
}

const PER_RUN_OK = ['admin@test.local', 'director@test.local', 'manager@test.local'].map((email) => ({
  email,
  password_ok: true,
  scheme: '$2a$',
  user_stamps: true,
  identity_stamps: true,
}));

/** A Supabase project folder with this repository's config.toml and migrations, and `seed` as seed.sql. */
function supabaseProject(seed: string): string {
  const dir = tempDir('seed');
  mkdirSync(path.join(dir, 'supabase'));
  copyFileSync(path.resolve('supabase/config.toml'), path.join(dir, 'supabase', 'config.toml'));
  symlinkSync(path.resolve('supabase/migrations'), path.join(dir, 'supabase', 'migrations'));
  copyFileSync(seed, path.join(dir, 'supabase', 'seed.sql'));
  return dir;
}

describe.concurrent('seed.sql gives exactly the rows of users create', () => {
  let config: Config;
  let file: string;
  let expected: Record<string, string>;

  beforeAll(async () => {
    const url = await createTestDatabase();
    config = testConfig({ local: url });
    file = path.join(tempDir('seed'), 'seed.sql');
    const [exported] = await Promise.all([
      exportSeed(config, { file }),
      createTestUsers(config, config.local),
    ]);
    expect(exported.bytes).toBeGreaterThan(0);
    expected = await contentChecksums(url);
    expect(await perRunColumns(url)).toEqual(PER_RUN_OK);
  });

  it('stock psql -1 -v ON_ERROR_STOP=1 -f into a fresh migrated database: equal checksums; users check passes', async () => {
    const url = await createTestDatabase();
    psqlFile(url, file);
    expect(await contentChecksums(url)).toEqual(expected);
    expect(await perRunColumns(url)).toEqual(PER_RUN_OK);
    const report = await checkTestUsers(config, { label: 'custom', url, source: 'argument' });
    expect(report.users.map((u) => u.problems)).toEqual([[], [], []]);
  });

  it('`supabase db reset` (the real CLI, the project’s config.toml) loads it after the migrations: equal checksums', async () => {
    const url = await createTestDatabase();
    const dir = supabaseProject(file);
    await supabaseCli(['db', 'reset', '--db-url', cliDbUrl(url), '--yes'], dir);
    expect(await contentChecksums(url)).toEqual(expected);
    expect(await perRunColumns(url)).toEqual(PER_RUN_OK);
    const report = await checkTestUsers(config, { label: 'custom', url, source: 'argument' });
    expect(report.users.map((u) => u.problems)).toEqual([[], [], []]);
  });

  it('where segments and tags exist already under other ids, rows point at them by name, as with users create', async () => {
    const [created, loaded] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    const at = "'2025-01-01T00:00:00Z'";
    const before = `insert into public.segments (name, created_at, updated_at) values ('Local segment', ${at}, ${at});
      insert into public.tags (name, color, created_at, updated_at)
        values ('Local tag', 'red', ${at}, ${at}), ('Key Account', 'blue', ${at}, ${at})`;
    await Promise.all([created, loaded].map((url) => withClient(url, (c) => c.query(before))));
    await createTestUsers(config, { label: 'custom', url: created, source: 'argument' });
    psqlFile(loaded, file);
    expect(await contentChecksums(loaded)).toEqual(await contentChecksums(created));
  });

  it('is deterministic: a second export writes the same bytes, and the committed supabase/seed.sql is the default export', async () => {
    const again = path.join(path.dirname(file), 'again.sql');
    await exportSeed(config, { file: again });
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
    // The repository's file, as `npm run seed:export` writes it with the default settings.
    const defaults = loadConfig({ cwd: tempProject({ ownMigrations: true }), env: {} });
    const committed = await checkSeedFile(defaults, path.resolve('supabase/seed.sql'));
    expect(committed.upToDate, 'supabase/seed.sql is out of date: run `npm run seed:export`').toBe(true);
  });
});

describe('crm-env seed export', () => {
  it('writes supabase/seed.sql in the project; replaces its own file but not another without --yes; --json on success and failure', async () => {
    const cwd = tempProject({ ownMigrations: true });
    const seed = path.join(cwd, 'supabase', 'seed.sql');
    const run = async (argv: readonly string[], env: Record<string, string> = {}) => {
      const r = await runMain(['seed', 'export', ...argv, '--json'], { cwd, env });
      return { code: r.code, doc: JSON.parse(r.stdout) as Record<string, unknown> };
    };

    const first = await run([]);
    expect(first.code).toBe(0);
    expect(first.doc).toMatchObject({ ok: true, command: 'seed export', file: 'supabase/seed.sql' });
    expect(first.doc.testPassword).toBe('TestPass123!');
    expect(Number.isInteger(first.doc.ms)).toBe(true);
    const written = readFileSync(seed);
    expect(written.toString('utf8').startsWith(SEED_FILE_MARKER)).toBe(true);
    expect((await run([])).code).toBe(0); // its own file: replaced, same bytes
    expect(readFileSync(seed).equals(written)).toBe(true);

    writeFileSync(seed, "insert into public.tags (name) values ('mine');\n");
    const refused = await run([]);
    expect(refused).toMatchObject({ code: 2, doc: { ok: false, exitCode: 2, error: expect.any(String) } });
    expect(readFileSync(seed, 'utf8')).toBe("insert into public.tags (name) values ('mine');\n");
    const stale = await run(['--check']); // --check writes nothing: exit 1 while the file differs
    expect(stale).toMatchObject({
      code: 1,
      doc: { ok: false, exitCode: 1, upToDate: false, missing: false },
    });
    expect((await run(['--yes'])).code).toBe(0);
    expect(readFileSync(seed).equals(written)).toBe(true);
    const current = await run(['--check']);
    expect(current).toMatchObject({ code: 0, doc: { upToDate: true, expectedBytes: written.length } });
    expect((await run(['--check', '--output', 'none.sql'])).doc).toMatchObject({
      upToDate: false,
      missing: true,
    });

    // A password someone chose is never written into the committed file: exit 2, nothing written.
    const other = path.join(cwd, 'other.sql');
    const secret = await run(['--output', 'other.sql'], { TEST_USER_PASSWORD: 'my-own-Secret-9' });
    expect(secret).toMatchObject({ code: 2, doc: { ok: false, exitCode: 2 } });
    expect(JSON.stringify(secret.doc)).not.toContain('my-own-Secret-9');
    expect(() => readFileSync(other)).toThrow();
  });
});
