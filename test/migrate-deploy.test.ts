import type { Confirmer } from '../src/confirm.js';
import { approved, noConfirmation } from '../src/confirm.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../src/config.js';
import { connect, withClient } from '../src/db/connect.js';
import { readMigrations } from '../src/migration/files.js';
import type { DeployOptions, DeployReport } from '../src/migration/deploy.js';
import { DeployError, deployMigrations } from '../src/migration/deploy.js';
import { ApplyFailedError } from '../src/migration/apply.js';
import { OperationError, UsageError } from '../src/errors.js';
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
import { tracked, waitFor } from './support/wait.js';

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

/** The crm-env session waiting (not granted) for a lock on `table`, with its transaction's start. */
async function lockWaiter(
  url: string,
  table: string,
): Promise<{ pid: number; xactStart: string } | undefined> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ pid: number; xactStart: string }>(
      `select a.pid, a.xact_start::text as "xactStart"
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'relation' and l.relation = $1::regclass and not l.granted
          and a.application_name = 'crm-env'`,
      [table],
    );
    return rows[0];
  });
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
    expect(dry.report.dryRunFiles.map((f) => [f.fileName, f.status, f.line])).toEqual([
      [V1, 'ok', undefined],
      [V2, 'ok', undefined],
      [V3, 'failed', 3],
    ]);
    expect(dry.report.dryRunFiles[2]!.error).toContain('missing_table');
    expect(await state(url)).toEqual(before);

    const real = await deployError(deployMigrations(p.config, local(url), { confirm: approved }));
    expect(real.exitCode).toBe(1);
    expect(real.report.dryRunFiles.at(-1)).toMatchObject({ fileName: V3, status: 'failed', line: 3 });
    expect(real.report.files).toEqual([]);
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
    expect(err.exitCode).toBe(1);
    expect(err.report.files.map((f) => [f.fileName, f.status])).toEqual([
      [V1, 'rolled-back'],
      [V2, 'rolled-back'],
      [V3, 'failed'],
    ]);
    expect(err.report.files[2]).toMatchObject({ line: 2, error: expect.stringContaining('target changed') });
    expect(err.report.backup).not.toBeNull();
    expect(existsSync(err.report.backup!.file)).toBe(true);
    // The error names the backup file.
    expect(err.message).toContain(path.basename(err.report.backup!.file));
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
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect(await state(cloud)).toEqual({ tables: [], history: [] });
    // The confirmation was all that was missing: confirmed, the same deploy goes through.
    const yes = await deployMigrations(
      p.config,
      { label: 'cloud', url: cloud, source: 'environment' },
      { confirm: approved },
    );
    expect(yes.outcome).toBe('applied');
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
      // The loser is turned away at the lock, before a report exists (exit 1), not by a failed deploy.
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(OperationError);
        expect(r.reason).not.toBeInstanceOf(DeployError);
      } else if (r.value.outcome !== 'applied') expect(r.value.outcome).toBe('up-to-date');
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
      expect(err.cause).toBeInstanceOf(ApplyFailedError);
      expect((err.cause as ApplyFailedError).lockTimeout).toBe(true);
      expect(err.report).toMatchObject({ outcome: 'failed', attempts: 2, backup: null });
      expect(err.report.dryRunFiles.map((f) => [f.fileName, f.status])).toEqual([[V2, 'failed']]);
      expect(await state(url)).toEqual({ tables: ['one'], history: ['20990101000001'] });

      // Now with retries to spare: release the lock once an attempt has timed out and the next one
      // waits (a new transaction of the same session waiting for the table, seen in pg_locks).
      const deploy = tracked(
        deployMigrations(p.config, local(url), { ...opts, lockTimeout: '1s', retries: 10, retryDelayMs: 50 }),
      );
      const first = await waitFor(
        'the deploy waiting for the lock',
        () => lockWaiter(url, 'public.one'),
        deploy.settled,
      );
      const retry = await waitFor(
        'a second attempt waiting for the lock',
        async () => {
          const w = await lockWaiter(url, 'public.one');
          return w && w.xactStart !== first.xactStart ? w : undefined;
        },
        deploy.settled,
      );
      expect(retry.pid).toBe(first.pid);
      await holder.query('rollback');
      const ok = await deploy.promise;
      expect(ok.outcome).toBe('applied');
      expect(ok.attempts).toBe(1); // the dry run waited out the lock; the apply then went through at once
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
    // A warning names the file that runs outside the transaction.
    expect(reporter.lines.some((l) => l.startsWith('warning:') && l.includes(concurrently))).toBe(true);
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
    expect(err.exitCode).toBe(1);
    const errors = err.report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => [path.basename(f.file), f.line, f.rule])).toEqual([
      [V1, 1, 'changed-after-apply'],
      [V2, 1, 'table-without-rls'],
    ]);
    expect(err.report.dryRunFiles).toEqual([]);
    expect(await state(url)).toEqual({ tables: ['one'], history: ['20990101000001'] });
  });
});
