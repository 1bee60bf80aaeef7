import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { serverUserCanReach } from '../src/stack/server.js';
import { runCli, runMain } from './support/cli.js';
import { urlFor } from './support/db.js';
import { freePort } from './support/ports.js';
import { tempDir } from './support/tmp.js';

const AS_ROOT = process.getuid?.() === 0;

const index = (name: string): string =>
  `create index concurrently if not exists ${name} on public.contacts (last_seen);\n`;

/** URL of the `postgres` role on a stack server, with the password from the stack's pgpass file. */
function stackUrl(stackDir: string, port: string): string {
  const pgpass = readFileSync(path.join(stackDir, 'pgpass'), 'utf8');
  const line = pgpass.split('\n').find((l) => l.startsWith(`127.0.0.1:${port}:*:postgres:`))!;
  return `postgresql://postgres:${encodeURIComponent(line.split(':').slice(4).join(':'))}@127.0.0.1:${port}/postgres`;
}

async function validIndex(url: string, name: string): Promise<boolean> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ ok: boolean }>(
      'select indisvalid as ok from pg_index where indexrelid = to_regclass($1)',
      [`public.${name}`],
    );
    return rows[0]?.ok === true;
  });
}

/** Where `stack up` put the server data (stack.json's `dataRoot`), if it got that far. */
function dataRootOf(stackDir: string): string | undefined {
  const file = path.join(stackDir, 'stack.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { dataRoot: string }).dataRoot
    : undefined;
}

describe('embedded stack, end to end through the CLI', () => {
  // The project folder as a fresh checkout under a private folder (mode 0700) would be. As root the
  // servers run as the postgres OS user, which cannot enter it: their data must move to a folder it
  // can reach, while the connection files stay in the stack folder.
  const dir = tempDir('stack');
  // The repository's migrations plus a CONCURRENTLY file, which `stack up` applies on its own.
  const migrations = path.join(dir, 'supabase', 'migrations');
  mkdirSync(migrations, { recursive: true });
  symlinkSync(path.resolve('supabase/config.toml'), path.join(dir, 'supabase', 'config.toml'));
  for (const f of readdirSync(path.resolve('supabase/migrations')))
    symlinkSync(path.resolve('supabase/migrations', f), path.join(migrations, f));
  writeFileSync(path.join(migrations, '20990101000001_first_index.sql'), index('contacts_first_idx'));
  const stackDir = path.join(dir, 'stack-from-dotenv');
  let env: Record<string, string> = {};

  afterAll(() => {
    runCli(['stack', 'down'], { cwd: dir, env });
    const dataRoot = dataRootOf(stackDir);
    if (dataRoot && dataRoot !== stackDir) rmSync(dataRoot, { recursive: true, force: true });
  });

  // Four steps on one stack, in order. After the first `stack up` through the built CLI, the CLI runs
  // in this process: no worker blocked for long. The first creates, starts and migrates two real
  // servers (initdb twice): on a busy machine that alone can take minutes, hence its longer hang guard.
  it(
    'up puts the data where the servers can reach it, is idempotent and honours STACK_DIR from .env',
    { timeout: 300_000 },
    async () => {
      env = { LOCAL_DB_PORT: String(await freePort()), SANDBOX_DB_PORT: String(await freePort()) };
      writeFileSync(path.join(dir, '.env'), `STACK_DIR=${path.join(dir, 'stack-from-dotenv')}\n`); // honoured
      const first = runCli(['stack', 'up'], { cwd: dir, env });
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const dataRoot = dataRootOf(stackDir);
      if (AS_ROOT) {
        expect(dataRoot).toMatch(/^\/var\/tmp\/crm-env-[0-9a-f]{12}$/);
        expect(serverUserCanReach(dataRoot!)).toBe(true);
      } else {
        expect(dataRoot).toBe(stackDir);
      }
      expect(first.stdout).not.toMatch(/postgres:(?!\*\*\*)[^@\s]+@/); // no password shown

      const second = runCli(['stack', 'up', '--json'], { cwd: dir, env });
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout)).toMatchObject({
        ok: true,
        exitCode: 0,
        migrationsApplied: 0,
        passFile: 'stack-from-dotenv/pgpass',
        servers: [{ action: 'already running' }, { action: 'already running' }],
      });
      expect(
        JSON.parse(readFileSync(path.join(dir, 'stack-from-dotenv', 'stack.json'), 'utf8')).ports,
      ).toEqual({
        local: Number(env.LOCAL_DB_PORT),
        sandbox: Number(env.SANDBOX_DB_PORT),
      });

      // The printed URL works with the password from the pgpass file the export lines point at, and
      // auth.uid() exists. (psql reads PGPASSFILE itself; here the line is looked up by hand.)
      const url = stackUrl(stackDir, env.LOCAL_DB_PORT!);
      const sandbox = stackUrl(stackDir, env.SANDBOX_DB_PORT!);
      const tables = await withClient(url, async (c) => {
        await c.query('select auth.uid()');
        const { rows } = await c.query<{ n: number }>(
          `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r' and c.relrowsecurity`,
        );
        return rows[0]!.n;
      });
      expect(tables).toBe(13);
      expect([
        await validIndex(url, 'contacts_first_idx'),
        await validIndex(sandbox, 'contacts_first_idx'),
      ]).toEqual([true, true]);
    },
  );

  it('the demo runs on it, as JSON, showing the default test password', async () => {
    // The demo (stack up, users, push, sign-in check) applies a new CONCURRENTLY file on both servers too.
    writeFileSync(path.join(migrations, '20990101000002_second_index.sql'), index('contacts_second_idx'));
    const demo = await runMain(['demo', '--json'], { cwd: dir, env });
    expect(demo.code, demo.stderr).toBe(0);
    expect(JSON.parse(demo.stdout)).toMatchObject({
      ok: true,
      verifyEqual: true,
      testPassword: 'TestPass123!',
    });
    expect([
      await validIndex(stackUrl(stackDir, env.LOCAL_DB_PORT!), 'contacts_second_idx'),
      await validIndex(stackUrl(stackDir, env.SANDBOX_DB_PORT!), 'contacts_second_idx'),
    ]).toEqual([true, true]);
  });

  it('other ports than the running stack’s: stack commands and commands using its URLs refuse (exit 2)', async () => {
    const moved = { ...env, LOCAL_DB_PORT: String(await freePort()) };
    for (const args of [['stack', 'status'], ['stack', 'up'], ['verify'], ['users', 'create']]) {
      const r = await runMain([...args, '--json'], { cwd: dir, env: moved });
      expect(r.code, args.join(' ')).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    }
  });

  it('status tracks it; down stops only its servers, whatever the configured ports', async () => {
    const moved = { ...env, LOCAL_DB_PORT: String(await freePort()) };
    const status = await runMain(['stack', 'status', '--json'], { cwd: dir, env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ ok: true, up: true });
    const down = await runMain(['stack', 'down', '--json'], { cwd: dir, env: moved }); // by data folder, any ports
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout).servers.map((s: { action: string }) => s.action)).toEqual([
      'stopped',
      'stopped',
    ]);
    const stopped = await runMain(['stack', 'status', '--json'], { cwd: dir, env });
    expect(stopped.code).toBe(1);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ ok: false, exitCode: 1, up: false });
    // Only its own servers: the test run's servers still answer.
    await withClient(urlFor('local', 'postgres'), (c) => c.query('select 1'));
  });
});
