import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { serverUserCanReach } from '../src/stack/server.js';
import { runCli } from './support/cli.js';
import { urlFor } from './support/db.js';
import { freePort } from './support/ports.js';
import { tempDir } from './support/tmp.js';

interface StatusJson {
  up: boolean;
  servers: { name: string; port: number; running: boolean; answers: boolean }[];
}

/** `stack status --json`: exit code and the parsed document. */
function status(cwd: string, env: Record<string, string>): { code: number; json: StatusJson } {
  const r = runCli(['stack', 'status', '--json'], { cwd, env });
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson };
}

/** The stack's state file (written by `stack up`): where the server data lives. */
function stackState(stackDir: string): { dataRoot: string } {
  return JSON.parse(readFileSync(path.join(stackDir, 'stack.json'), 'utf8')) as { dataRoot: string };
}

/** The postmaster's pid of a stack server (first line of postmaster.pid), or null when it is stopped. */
function postmasterPid(dataRoot: string, name: 'local' | 'sandbox'): string | null {
  const file = path.join(dataRoot, name, 'data', 'postmaster.pid');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n')[0]! : null;
}

/** The `postgres` role's URL of a stack server, with the password from the stack's pgpass file. */
function urlFromPgpass(stackDir: string, port: string): string {
  const pgpass = readFileSync(path.join(stackDir, 'pgpass'), 'utf8');
  const line = pgpass.split('\n').find((l) => l.startsWith(`127.0.0.1:${port}:*:postgres:`))!;
  const password = line.split(':').slice(4).join(':');
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

async function migrationCount(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      'select count(*)::int as n from supabase_migrations.schema_migrations',
    );
    return rows[0]!.n;
  });
}

const AS_ROOT = process.getuid?.() === 0;

describe('embedded stack, end to end through the CLI', () => {
  // The project folder as a fresh checkout under a private folder (mode 0700) would be. As root the
  // servers run as the postgres OS user, which cannot enter it: their data must move to a folder it
  // can reach, while the connection files stay in the stack folder.
  const dir = tempDir('stack');
  symlinkSync(path.resolve('supabase'), path.join(dir, 'supabase'));
  const stackDir = path.join(dir, '.crm-env');
  let env: Record<string, string> = {};
  let dataRoot: string | undefined;

  afterAll(() => {
    runCli(['stack', 'down'], { cwd: dir, env });
    if (dataRoot && dataRoot !== stackDir) rmSync(dataRoot, { recursive: true, force: true });
  });

  // Two real servers created, started and migrated through the CLI (initdb twice): on a busy machine
  // this alone can take a minute, hence the longer hang guard.
  it(
    'up puts the data where the servers can reach it, is idempotent; status tracks it; down stops only its servers',
    { timeout: 240_000 },
    async () => {
      env = { LOCAL_DB_PORT: String(await freePort()), SANDBOX_DB_PORT: String(await freePort()) };
      const first = runCli(['stack', 'up'], { cwd: dir, env });
      dataRoot = existsSync(path.join(stackDir, 'stack.json')) ? stackState(stackDir).dataRoot : undefined;
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      if (AS_ROOT) {
        expect(dataRoot).toMatch(/^\/var\/tmp\/crm-env-[0-9a-f]{12}$/);
        expect(serverUserCanReach(dataRoot!)).toBe(true);
      } else {
        expect(dataRoot).toBe(stackDir);
      }
      const pids = { local: postmasterPid(dataRoot!, 'local'), sandbox: postmasterPid(dataRoot!, 'sandbox') };
      expect(pids.local).not.toBeNull();
      expect(pids.sandbox).not.toBeNull();

      // The URL works with the password from the pgpass file the printed export lines point at, the
      // schema is there (auth.uid(), RLS on every public table), and the secret password was not printed.
      const local = urlFromPgpass(stackDir, env.LOCAL_DB_PORT!);
      const sandbox = urlFromPgpass(stackDir, env.SANDBOX_DB_PORT!);
      const tables = await withClient(local, async (c) => {
        await c.query('select auth.uid()');
        const { rows } = await c.query<{ n: number }>(
          `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r' and c.relrowsecurity`,
        );
        return rows[0]!.n;
      });
      expect(tables).toBe(13);
      const migrations = await migrationCount(local);
      expect(migrations).toBeGreaterThan(0);
      expect(await migrationCount(sandbox)).toBe(migrations);
      // The local server keeps Supabase's well-known local password; the sandbox cloud's is a secret.
      expect(first.stdout + first.stderr).not.toContain(decodeURIComponent(new URL(sandbox).password));

      // Again: the same servers keep running (same postmaster), nothing is applied twice.
      const second = runCli(['stack', 'up'], { cwd: dir, env });
      expect(second.code, second.stderr).toBe(0);
      expect({
        local: postmasterPid(dataRoot!, 'local'),
        sandbox: postmasterPid(dataRoot!, 'sandbox'),
      }).toEqual(pids);
      expect(await migrationCount(local)).toBe(migrations);

      const up = status(dir, env);
      expect(up.code).toBe(0);
      expect(up.json.up).toBe(true);
      expect(up.json.servers.map((s) => [s.name, s.port, s.answers])).toEqual([
        ['local', Number(env.LOCAL_DB_PORT), true],
        ['sandbox', Number(env.SANDBOX_DB_PORT), true],
      ]);

      const down = runCli(['stack', 'down'], { cwd: dir, env });
      expect(down.code, down.stderr).toBe(0);
      expect([postmasterPid(dataRoot!, 'local'), postmasterPid(dataRoot!, 'sandbox')]).toEqual([null, null]);
      const stopped = status(dir, env);
      expect(stopped.code).toBe(1);
      expect(stopped.json.up).toBe(false);
      expect(stopped.json.servers.map((s) => s.running)).toEqual([false, false]);
      // Only its own servers: the test run's servers still answer.
      await withClient(urlFor('local', 'postgres'), (c) => c.query('select 1'));
    },
  );
});
