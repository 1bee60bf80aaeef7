/**
 * Acceptance: no password in any output. Every command runs through the built CLI against a cloud
 * whose password holds every character that needs care in a URL, written in each shape a user
 * pastes; all stdout/stderr (human and --json), every file the commands write (backups included) and
 * the argv and environment of every child process (a pg_dump/psql wrapper records them) are searched
 * for every fragment of the password: zero hits. Shapes that cannot be read exit 2, quoting nothing.
 */
import { chmodSync, rmSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { migrateUp } from '../src/migration/runner.js';
import { applyBaseSchema } from '../src/stack/base-schema.js';
import type { CliResult } from './support/cli.js';
import { runCliAsync, tempProject } from './support/cli.js';
import { createTestDatabase } from './support/db.js';
import type { ExtraServer } from './support/extra-server.js';
import { startExtraServer } from './support/extra-server.js';
import { tempDir } from './support/tmp.js';

/** The cloud's password: distinctive fragments between the characters URLs and .env files mangle. */
const P = 'Qz8Kx9T/Wv3R Zr7Q@Lm4P#Np8S%Hj2U?Bc5V:Ds6W';
const FRAGMENTS = P.split(/[^A-Za-z0-9]/);
const partly = (p: string): string => p.replace(/[/#%?]/g, encodeURIComponent); // raw space, @ and :

/** Every place a password could land, searched for every fragment and spelling. */
function leaks(text: string): string[] {
  return [...FRAGMENTS, encodeURIComponent(P), partly(P)].filter((f) => text.includes(f));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => !f.includes(`${path.sep}supabase`) && statSync(f).isFile());
}

describe('no password in any output, whatever the URL shape', () => {
  let server: ExtraServer;
  const shims: string[] = [];

  /**
   * Wrappers that record argv and the whole environment (PGPASSWORD's value excepted) into a log of
   * their own, then run the real program: one per case, so the cases can run at once.
   */
  function shim(): { dir: string; log: string } {
    const dir = tempDir('shim');
    shims.push(dir);
    const log = path.join(dir, 'children.log');
    writeFileSync(log, '');
    const binDir = inject('pgServers').local.binDir;
    for (const name of ['pg_dump', 'psql']) {
      writeFileSync(
        path.join(dir, name),
        `#!/bin/sh\n{ echo "argv: $0 $*"; env | grep -v '^PGPASSWORD='; echo "PGPASSWORD set: \${PGPASSWORD:+yes}"; } >> ${log}\nexec ${path.join(binDir, name)} "$@"\n`,
      );
      chmodSync(path.join(dir, name), 0o755);
    }
    return { dir, log };
  }

  beforeAll(async () => {
    server = await startExtraServer({ password: P });
    const admin = server.url('postgres', 'supabase_admin');
    await withClient(admin, (c) => c.query('create database tpl_crm owner postgres'));
    await applyBaseSchema(server.url('tpl_crm', 'supabase_admin'));
    await migrateUp(server.url('tpl_crm'), path.resolve('supabase/migrations'));
    await withClient(admin, (c) =>
      c.query(`update pg_database set datistemplate = true, datallowconn = false where datname = 'tpl_crm'`),
    );
  });
  afterAll(async () => {
    await server?.stop();
    for (const dir of shims) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A project folder, a local database and a cloud database of its own on the server with password
   * P, and the log its pg_dump and psql runs are recorded in.
   */
  async function project(): Promise<{
    dir: string;
    env: Record<string, string>;
    cloud: string;
    log: string;
  }> {
    const dir = tempProject();
    const wrappers = shim();
    const cloud = `s_${path.basename(dir).replace(/\W/g, '').toLowerCase()}`;
    await withClient(server.url('postgres', 'supabase_admin'), (c) =>
      c.query(`create database ${cloud} template tpl_crm owner postgres`),
    );
    const env = {
      PATH: `${wrappers.dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      PG_DUMP: path.join(wrappers.dir, 'pg_dump'),
      LOCAL_DATABASE_URL: await createTestDatabase({ server: 'local' }),
      STACK_DIR: path.join(dir, '.crm-env'),
      TEST_USER_PASSWORD: 'TestUsersPw-1',
      // Small data: what is searched is where URLs go, not how much is copied.
      SEED_ORGANIZATION_COUNT: '2',
      SEED_CONTACT_COUNT: '2',
      SEED_OPPORTUNITY_COUNT: '2',
      SEED_ACTIVITY_COUNT: '2',
      SEED_PRODUCT_COUNT: '2',
    };
    return { dir, env, cloud, log: wrappers.log };
  }

  const host = (): string => `127.0.0.1:${server.spec.port}`;
  /** The shapes that work: [name, how the cloud URL is given]. */
  /**
   * Every command that reaches the cloud (the embedded stack's own commands aside), in an order in
   * which each succeeds. (The rehearsal of validate is skipped: it runs on the local server only.)
   */
  const ALL: string[][] = [
    ['users', 'create', '--json'],
    ['users', 'create', '--target', 'cloud', '--json'],
    ['users', 'check', '--target', 'cloud', '--json'],
    ['sync', 'push', '--force', '--json'],
    ['verify', '--json'],
    ['migrate', 'up', '--target', 'cloud', '--json'],
    ['migrate', 'validate', '--target', 'cloud', '--no-rehearsal', '--json'],
    ['migrate', 'deploy', 'cloud', '--dry-run', '--json'],
    ['migrate', 'deploy', 'cloud', '--yes', '--json'],
    ['migrate', 'backup', 'cloud', '--json'],
    ['restore', '<backup>', '--target', 'cloud', '--yes', '--json'],
    ['reset', '--yes'],
  ];
  /** For the other shapes, the commands that show the URL, write it into a file or hand it to pg_dump. */
  const SHOWING = [ALL[0]!, ALL[3]!, ALL[4]!, ALL[7]!, ALL[9]!];

  // The shape at the root of most known leaks runs every command; the others the ones that show URLs.
  const SHAPES: [string, string[][], (db: string) => { env?: Record<string, string>; file?: string }][] = [
    [
      'percent-encoded',
      SHOWING,
      (db) => ({
        env: { DATABASE_URL_PRODUCTION: `postgresql://postgres:${encodeURIComponent(P)}@${host()}/${db}` },
      }),
    ],
    [
      '?password= with sslmode (every command)',
      ALL,
      (db) => ({
        env: {
          DATABASE_URL_PRODUCTION: `postgres://postgres@${host()}/${db}?sslmode=prefer&password=${encodeURIComponent(P)}`,
        },
      }),
    ],
    [
      '.env.production, quoted, raw space @ and :',
      SHOWING,
      (db) => ({ file: `DATABASE_URL_PRODUCTION="postgresql://postgres:${partly(P)}@${host()}/${db}"\n` }),
    ],
  ];

  // Each case has its own project, databases and wrapper log: they run at once.
  it.concurrent.each(SHAPES)(
    '%s: the commands succeed and nothing they print, write or run holds the password',
    async (_, commands, shape) => {
      const { dir, env, cloud, log } = await project();
      const given = shape(cloud);
      if (given.file) writeFileSync(path.join(dir, '.env.production'), given.file, { mode: 0o600 });
      const runEnv = { ...env, ...given.env };
      let backupFile = '';
      const results: { args: string[]; r: CliResult }[] = [];
      for (const template of commands) {
        const args = template.map((a) => (a === '<backup>' ? backupFile : a));
        const r = await runCliAsync(args, { cwd: dir, env: runEnv });
        results.push({ args, r });
        if (args[1] === 'backup' && r.code === 0)
          backupFile = (JSON.parse(r.stdout) as { file: string }).file;
      }
      expect(results.map(({ args, r }) => `${args.join(' ')}: ${r.code}`)).toEqual(
        results.map(({ args }) => `${args.join(' ')}: 0`),
      );
      const outputs = results.map(({ r }) => r.stdout + r.stderr).join('\n');
      const written = filesUnder(dir).filter((f) => !f.endsWith('.env.production'));
      expect(written.filter((f) => f.endsWith('.sql')).length).toBeGreaterThanOrEqual(2);
      const files = written.map((f) => readFileSync(f, 'utf8')).join('\n');
      const children = readFileSync(log, 'utf8');
      expect(children).toContain('PGPASSWORD set: yes');
      expect({ outputs: leaks(outputs), files: leaks(files), children: leaks(children) }).toEqual({
        outputs: [],
        files: [],
        children: [],
      });
    },
    300_000, // a dozen CLI runs in a row on a busy machine
  );

  it.concurrent.each([
    [
      'unquoted (a # cuts it)',
      (db: string) => `DATABASE_URL_PRODUCTION=postgresql://postgres:${P}@127.0.0.1:5432/${db}\n`,
    ],
    [
      'quoted, raw / # ?',
      (db: string) => `DATABASE_URL_PRODUCTION="postgresql://postgres:${P}@127.0.0.1:5432/${db}"\n`,
    ],
  ])('.env.production %s: exit 2, nothing quoted', async (_, file) => {
    const { dir, env } = await project();
    writeFileSync(path.join(dir, '.env.production'), file('postgres'), { mode: 0o600 });
    const r = await runCliAsync(['verify', '--json'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
  });
});
