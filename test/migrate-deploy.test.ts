import type { Confirmer } from '../src/confirm.js';
import { approved, noConfirmation } from '../src/confirm.js';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../src/config.js';
import { connect, withClient } from '../src/db/connect.js';
import { readMigrations } from '../src/migration/files.js';
import type { DeployOptions, DeployReport } from '../src/migration/deploy.js';
import { DeployError, deployMigrations } from '../src/migration/deploy.js';
import { recordingReporter } from '../src/reporter.js';
import { createTestDatabase } from './support/db.js';
import {
  cliDbUrl,
  migrationProject,
  parseMigrationList,
  repoMigrationsProject,
  supabaseCli,
  tableSql,
} from './support/migration-project.js';

const V1 = '20990101000001_one.sql';
const V2 = '20990101000002_two.sql';
const V3 = '20990101000003_three.sql';

/** Tables and history versions: what "exactly as before" compares. */
async function state(url: string): Promise<{ tables: string[]; history: string[] }> {
  return withClient(url, async (c) => {
    const { rows: t } = await c.query<{ n: string }>(
      `select relname as n from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' order by 1`,
    );
    const { rows: reg } = await c.query<{ ok: boolean }>(
      `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`,
    );
    const history = reg[0]!.ok
      ? (
          await c.query<{ v: string }>(
            'select version as v from supabase_migrations.schema_migrations order by 1',
          )
        ).rows.map((r) => r.v)
      : [];
    return { tables: t.map((r) => r.n), history };
  });
}

const local = (url: string): DatabaseTarget => ({ label: 'local', url, source: 'environment' });

async function deployError(p: Promise<unknown>): Promise<DeployError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeployError);
  return err as DeployError;
}

// Line 3 references a table that does not exist: valid syntax, fails only on the server.
const MISSING_TABLE =
  '-- third migration\n-- adds a column\nalter table public.missing_table add column x int;\n';

describe.concurrent('migrate deploy', () => {
  it('rolls everything back when the third file fails; the dry run reports the same and changes nothing', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = migrationProject(
      { [V1]: tableSql('one'), [V2]: tableSql('two'), [V3]: MISSING_TABLE },
      { local: url },
    );
    const before = await state(url);

    const dry = await deployError(deployMigrations(p.config, local(url), { dryRun: true }));
    expect(dry.exitCode).toBe(1);
    expect(dry.message).toContain(`${V3} failed at line 3`);
    expect(dry.message).toContain('missing_table');
    expect(dry.report.dryRunFiles.map((f) => [f.fileName, f.status])).toEqual([
      [V1, 'ok'],
      [V2, 'ok'],
      [V3, 'failed'],
    ]);
    expect(await state(url)).toEqual(before);

    const real = await deployError(deployMigrations(p.config, local(url), { confirm: approved }));
    expect(real.exitCode).toBe(1);
    expect(real.message).toContain(`${V3} failed at line 3`);
    expect(real.report.backup).toBeNull(); // stopped at the dry run: no backup of a deploy that cannot work
    expect(await state(url)).toEqual(before);
    expect(before.tables).toEqual([]);
  });

  it('rolls back a failure of the real apply and says where the backup is', async () => {
    // The target changes between the dry run and the apply (here: while the deployer is asked to confirm).
    const cloud = await createTestDatabase({ server: 'cloud', template: 'base' });
    const guard =
      "do $$\nbegin\n  if to_regclass('public.changed_meanwhile') is not null then raise exception 'target changed'; end if;\nend $$;\n";
    const p = migrationProject(
      { [V1]: tableSql('one'), [V2]: tableSql('two'), [V3]: `-- guard\n${guard}` },
      { local: await createTestDatabase({ template: 'empty' }), cloud },
    );
    const target: DatabaseTarget = { label: 'cloud', url: cloud, source: 'environment' };
    const confirm: Confirmer = {
      canConfirm: true,
      ask: async () => {
        await withClient(cloud, (c) => c.query('create table public.changed_meanwhile (id int)'));
        return true;
      },
    };
    const err = await deployError(deployMigrations(p.config, target, { confirm }));
    expect(err.message).toMatch(new RegExp(`${V3} failed at line 2: .*target changed`));
    expect(err.message).toContain('Everything was rolled back');
    expect(err.report.backup).not.toBeNull();
    expect(existsSync(err.report.backup!.file)).toBe(true);
    expect(err.message).toContain(err.report.backup!.file.split('/').at(-1));
    expect(err.report.files.map((f) => f.status)).toEqual(['rolled-back', 'rolled-back', 'failed']);
    expect(await state(cloud)).toEqual({ tables: ['changed_meanwhile'], history: [] });
  });

  it('refuses without a terminal and without --yes before touching anything (exit 2)', async () => {
    const cloud = await createTestDatabase({ server: 'cloud', template: 'base' });
    const p = migrationProject(
      { [V1]: tableSql('one') },
      { local: cloud.replace(/\/[^/]+$/, '/postgres'), cloud },
    );
    const err = await deployMigrations(
      p.config,
      { label: 'cloud', url: cloud, source: 'environment' },
      { confirm: noConfirmation },
    ).catch((e: unknown) => e);
    expect((err as DeployError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/--yes/);
    expect(await state(cloud)).toEqual({ tables: [], history: [] });
  });

  it('lets one of two simultaneous deploys through; every migration is applied once', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = migrationProject(
      { [V1]: tableSql('one'), [V2]: tableSql('two'), [V3]: tableSql('three') },
      { local: url },
    );
    const results = await Promise.allSettled([
      deployMigrations(p.config, local(url), { confirm: approved }),
      deployMigrations(p.config, local(url), { confirm: approved }),
    ]);
    const applied = results.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'applied');
    expect(applied).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected')
        expect((r.reason as Error).message).toMatch(
          /Another crm-env migration or deploy is running.*Nothing was changed/,
        );
      else if (r.value.outcome !== 'applied') expect(r.value.outcome).toBe('up-to-date');
    }
    expect((await state(url)).history).toEqual(['20990101000001', '20990101000002', '20990101000003']);
  });

  it('deploys the whole schema; post-checks pass and `supabase migration list` shows every version applied', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = repoMigrationsProject({ local: url });
    const report = await deployMigrations(p.config, local(url), { confirm: approved });
    expect(report.outcome).toBe('applied');
    expect(report.postChecks?.ok).toBe(true);
    expect(report.backup?.bytes).toBeGreaterThan(0);
    const { files } = await readMigrations(p.migrationsDir);
    expect(report.files.map((f) => f.status)).toEqual(files.map(() => 'applied'));

    const list = parseMigrationList(
      await supabaseCli(['migration', 'list', '--db-url', cliDbUrl(url)], p.dir),
    );
    expect(list.remote).toEqual(files.map((f) => f.version));
    expect(list.local).toEqual(files.map((f) => f.version));

    const again = await deployMigrations(p.config, local(url), { confirm: approved });
    expect(again.outcome).toBe('up-to-date');
    expect(again.backup).toBeNull();
  });

  it('retries on lock timeout, gives up cleanly, and succeeds once the lock is released', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = migrationProject({ [V1]: tableSql('one') }, { local: url });
    await deployMigrations(p.config, local(url), { confirm: approved });
    p.write(V2, 'alter table public.one add column extra int;\n');

    const holder = await connect(url);
    try {
      await holder.query('begin; lock table public.one in access exclusive mode');
      const opts: DeployOptions = { confirm: approved, lockTimeout: '200ms', retries: 1, retryDelayMs: 200 };
      const err = await deployError(deployMigrations(p.config, local(url), opts));
      expect(err.exitCode).toBe(1);
      expect(err.message).toMatch(/lock timeout/);
      expect(err.message).toMatch(/Gave up after 2 attempt\(s\).*lock/);
      expect(err.message).toContain(V2);
      expect(await state(url)).toEqual({ tables: ['one'], history: ['20990101000001'] });

      // Release the lock once the dry run has hit it (observable: its first lock-timeout warning).
      const recorder = recordingReporter();
      let released: Promise<unknown> | null = null;
      const reporter = {
        ...recorder,
        warn: (m: string) => {
          recorder.warn(m);
          if (m.startsWith('Lock timeout')) released ??= holder.query('rollback');
        },
      };
      const ok = await deployMigrations(p.config, local(url), { ...opts, retries: 4 }, reporter);
      await released;
      expect(ok.outcome).toBe('applied');
      expect(ok.attempts).toBe(1); // the dry run waited out the lock; the apply then went through at once
      expect(recorder.lines.filter((l) => l.includes('Lock timeout')).length).toBeGreaterThanOrEqual(1);
      expect((await state(url)).history).toEqual(['20990101000001', '20990101000002']);
    } finally {
      await holder.end();
    }
  });

  it('applies a CONCURRENTLY migration on its own, after the others, with a warning', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const concurrently = '20990101000002_index_concurrently.sql';
    const p = migrationProject(
      {
        [V1]: tableSql('one'),
        [concurrently]: 'create index concurrently if not exists one_note_idx on public.one (note);\n',
        [V3]: tableSql('three'),
      },
      { local: url },
    );
    const reporter = recordingReporter();
    const report: DeployReport = await deployMigrations(
      p.config,
      local(url),
      { confirm: approved },
      reporter,
    );
    expect(report.dryRunFiles.map((f) => [f.fileName, f.status])).toEqual([
      [V1, 'ok'],
      [V3, 'ok'],
      [concurrently, 'skipped'],
    ]);
    expect(report.files.map((f) => [f.fileName, f.status])).toEqual([
      [V1, 'applied'],
      [V3, 'applied'],
      [concurrently, 'applied'],
    ]);
    expect(report.files[2]!.outsideTransaction).toEqual([{ line: 1, what: 'CREATE INDEX CONCURRENTLY' }]);
    expect(
      reporter.lines.some(
        (l) => l.startsWith('warning:') && l.includes(`${concurrently} cannot run inside a transaction`),
      ),
    ).toBe(true);
    expect((await state(url)).history).toEqual(['20990101000001', '20990101000002', '20990101000003']);
    const valid = await withClient(url, (c) =>
      c.query(`select indisvalid from pg_index where indexrelid = 'public.one_note_idx'::regclass`),
    );
    expect(valid.rows[0]).toEqual({ indisvalid: true });
  });

  it('blocks on validation errors before the dry run (lint error, edited applied file)', async () => {
    const url = await createTestDatabase({ template: 'base' });
    const p = migrationProject({ [V1]: tableSql('one') }, { local: url });
    await deployMigrations(p.config, local(url), { confirm: approved });
    p.write(V2, 'create table public.naked (id int);\n');
    p.write(V1, `${tableSql('one')}alter table public.one add column sneaky int;\n`);
    const err = await deployError(deployMigrations(p.config, local(url), { confirm: approved }));
    expect(err.message).toMatch(/Validation found 2 error\(s\); nothing was changed/);
    expect(err.details.join('\n')).toMatch(new RegExp(`${V1}:1 \\[changed-after-apply\\]`));
    expect(err.details.join('\n')).toMatch(new RegExp(`${V2}:1 \\[table-without-rls\\]`));
    expect(await state(url)).toEqual({ tables: ['one'], history: ['20990101000001'] });
  });
});
