import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveTarget } from '../src/config.js';
import { withClient } from '../src/db/connect.js';
import { ConfigError } from '../src/errors.js';
import { redactText, redactUrl } from '../src/redact.js';
import { applyBaseSchema } from '../src/stack/base-schema.js';
import { findPgBinaries } from '../src/stack/pg-binaries.js';
import { runCli, tempProject } from './support/cli.js';
import { createDatabasePair, createTestDatabase, superuserUrl, urlFor } from './support/db.js';

const tmp = (): string => tempProject();

describe('Supabase base schema', () => {
  it('applies twice without error', async () => {
    const url = await createTestDatabase({ template: 'base' });
    await expect(applyBaseSchema(superuserUrl(url))).resolves.toBe('applied');
    await expect(applyBaseSchema(superuserUrl(url))).resolves.toBe('applied');
  });

  it('auth.uid() returns the sub of request.jwt.claims, and the legacy claim GUC wins', async () => {
    const url = await createTestDatabase({ template: 'base' });
    await withClient(url, async (c) => {
      await c.query('begin');
      await c.query(`select set_config('request.jwt.claims', $1, true)`, [
        JSON.stringify({
          sub: '11111111-1111-4111-8111-111111111111',
          role: 'authenticated',
          email: 'a@test.local',
        }),
      ]);
      const { rows } = await c.query(
        'select auth.uid()::text as uid, auth.role() as role, auth.email() as email',
      );
      expect(rows[0]).toEqual({
        uid: '11111111-1111-4111-8111-111111111111',
        role: 'authenticated',
        email: 'a@test.local',
      });
      await c.query(
        `select set_config('request.jwt.claim.sub', '22222222-2222-4222-8222-222222222222', true)`,
      );
      const legacy = await c.query('select auth.uid()::text as uid');
      expect(legacy.rows[0].uid).toBe('22222222-2222-4222-8222-222222222222');
      await c.query('rollback');
    });
  });

  it('service_role bypasses RLS and authenticated does not', async () => {
    const url = await createTestDatabase({ template: 'base' });
    await withClient(url, async (c) => {
      await c.query(`create table public.notes (id int primary key, owner uuid not null, body text)`);
      await c.query(`alter table public.notes enable row level security`);
      await c.query(
        `create policy own on public.notes for select to authenticated using (owner = auth.uid())`,
      );
      await c.query(
        `insert into public.notes values (1, '11111111-1111-4111-8111-111111111111', 'mine'), (2, gen_random_uuid(), 'theirs')`,
      );
      const countAs = async (role: string): Promise<number> => {
        await c.query('begin');
        await c.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [
          role,
          JSON.stringify({ sub: '11111111-1111-4111-8111-111111111111', role }),
        ]);
        const { rows } = await c.query('select count(*)::int as n from public.notes');
        await c.query('rollback');
        return rows[0].n as number;
      };
      expect(await countAs('authenticated')).toBe(1);
      expect(await countAs('service_role')).toBe(2);
      expect(await countAs('anon')).toBe(0);
    });
  });
});

describe('configuration', () => {
  it('a malformed DATABASE_URL_PRODUCTION is a ConfigError without the password', () => {
    const env = {
      DATABASE_URL_PRODUCTION: 'postgresql://postgres:S3cretPassw0rd@db.example.com:notaport/postgres',
    };
    let err: unknown;
    try {
      loadConfig({ cwd: tmp(), env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toContain('DATABASE_URL_PRODUCTION');
    expect((err as Error).message).not.toContain('S3cretPassw0rd');
  });

  it('local and cloud naming the same database is a ConfigError', () => {
    const env = {
      LOCAL_DATABASE_URL: 'postgresql://postgres:a@localhost:5432/postgres',
      DATABASE_URL_PRODUCTION: 'postgresql://other:b@127.0.0.1:5432/postgres',
    };
    expect(() => loadConfig({ cwd: tmp(), env })).toThrow(ConfigError);
    // Another database on the same server is fine.
    const other = { ...env, DATABASE_URL_PRODUCTION: 'postgresql://other:b@127.0.0.1:5432/cloud' };
    expect(loadConfig({ cwd: tmp(), env: other }).cloud?.url).toBe(other.DATABASE_URL_PRODUCTION);
  });

  it('the environment wins over .env.production, which wins over .env', () => {
    const dir = tmp();
    writeFileSync(
      path.join(dir, '.env'),
      'DATABASE_URL_PRODUCTION=postgresql://u:p@env-file:5432/db\nSEED=from-env\n',
    );
    writeFileSync(
      path.join(dir, '.env.production'),
      'DATABASE_URL_PRODUCTION=postgresql://u:p@prod-file:5432/db\n',
    );
    const fromFiles = loadConfig({ cwd: dir, env: {} });
    expect(fromFiles.cloud?.url).toContain('prod-file');
    expect(fromFiles.cloud?.source).toBe('.env.production');
    expect(fromFiles.seed.seed).toBe('from-env');
    const fromEnv = loadConfig({
      cwd: dir,
      env: { DATABASE_URL_PRODUCTION: 'postgresql://u:p@from-env:5432/db' },
    });
    expect(fromEnv.cloud?.url).toContain('from-env');
  });

  it('resolveTarget accepts local, cloud, URLs and rejects anything else', () => {
    const cfg = loadConfig({
      cwd: tmp(),
      env: { DATABASE_URL_PRODUCTION: 'postgresql://u:p@cloud:5432/db' },
    });
    expect(resolveTarget(cfg, 'local').label).toBe('local');
    expect(resolveTarget(cfg, 'cloud').label).toBe('cloud');
    expect(resolveTarget(cfg, 'postgresql://x:y@h/d').label).toBe('custom');
    expect(() => resolveTarget(cfg, 'prod')).toThrow(ConfigError);
  });

  it('redacts passwords in URLs and free text', () => {
    expect(redactUrl('postgresql://postgres:hunter2@h:5432/db')).toBe('postgresql://postgres:***@h:5432/db');
    expect(redactText('failed for postgres://u:p%40ss@host/db and password=abc')).toBe(
      'failed for postgres://u:***@host/db and password=***',
    );
  });

  it('PG_BIN pointing at a wrong folder is a ConfigError naming the folder', () => {
    expect(() => findPgBinaries('/nonexistent/bin', process.cwd())).toThrow(ConfigError);
    expect(() => findPgBinaries('/nonexistent/bin', process.cwd())).toThrow('/nonexistent/bin');
  });
});

describe('CLI contract', () => {
  it('unknown flags and commands exit 2; --help exits 0 and lists the command groups', () => {
    const cwd = tmp();
    expect(runCli(['verify', '--bogus'], { cwd }).code).toBe(2);
    expect(runCli(['nonsense'], { cwd }).code).toBe(2);
    const help = runCli(['--help'], { cwd });
    expect(help.code).toBe(0);
    for (const word of ['users', 'sync', 'verify', 'reset', 'migrate', 'restore', 'stack', 'demo'])
      expect(help.stdout).toContain(word);
  });

  it('a malformed cloud URL exits 2 and never prints the password', () => {
    const r = runCli(['verify'], {
      cwd: tmp(),
      env: { DATABASE_URL_PRODUCTION: 'postgresql://postgres:Sup3rSecret@db:port/x' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).not.toContain('Sup3rSecret');
    expect(r.stderr).toMatch(/DATABASE_URL_PRODUCTION/);
  });

  it('a wrong password or an unreachable server exits 2 with a sentence, no stack trace and no password', () => {
    const wrong = new URL(urlFor('local', 'postgres'));
    wrong.password = 'WrongPassw0rd';
    for (const target of [wrong.toString(), 'postgresql://postgres:WrongPassw0rd@127.0.0.1:1/postgres']) {
      const r = runCli(['migrate', 'up', '--target', target], { cwd: tmp() });
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).not.toContain('WrongPassw0rd');
      expect(r.stderr.trim()).not.toBe(''); // a sentence…
      expect(r.stderr).not.toMatch(/\n\s+at /); // …and no stack trace
    }
  });

  it('refuses to run when .env.production is tracked by git, and runs once it is not', async () => {
    const dir = tmp();
    const { local, cloud } = await createDatabasePair();
    writeFileSync(path.join(dir, '.env.production'), `DATABASE_URL_PRODUCTION=${cloud}\n`);
    const env = { LOCAL_DATABASE_URL: local };
    const secret = decodeURIComponent(new URL(cloud).password);
    execFileSync('git', ['init', '-q'], { cwd: dir });
    execFileSync('git', ['add', '.env.production'], { cwd: dir });
    const tracked = runCli(['verify', '--json'], { cwd: dir, env });
    expect(tracked.code).toBe(2);
    expect(JSON.parse(tracked.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    expect(tracked.stderr).toContain('.env.production');
    expect(tracked.stderr + tracked.stdout).not.toContain(secret);

    execFileSync('git', ['rm', '-q', '--cached', '.env.production'], { cwd: dir });
    const untracked = runCli(['verify', '--json'], { cwd: dir, env });
    expect(untracked.code, untracked.stderr).toBe(0);
    expect((JSON.parse(untracked.stdout) as { equal: boolean }).equal).toBe(true);
  });

  it('PG_BIN pointing at a wrong folder makes stack up exit 2', () => {
    const dir = tmp();
    const r = runCli(['stack', 'up'], {
      cwd: dir,
      env: { PG_BIN: path.join(dir, 'nope'), STACK_DIR: path.join(dir, 'stack') },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(dir, 'nope'));
    expect(existsSync(path.join(dir, 'stack'))).toBe(false); // nothing was created
  });
});
