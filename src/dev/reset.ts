/**
 * `dev:reset`: the spec's reset, made safe. Steps, each a function below:
 * preflight (read-only, both databases: identity, role capabilities, backup folder, pg_dump, test-user
 * ids, the non-test users' rows a reset would remove) → confirm → back up both → reset local (rebuild
 * the public schema from the migrations and recreate the test users and data, one transaction that
 * also checks, before it commits, that the cloud can take local's rows) → replace the cloud's data with
 * local's through the all-or-nothing push (which removes only test-domain auth users) and verify.
 *
 * Local commits before the cloud push starts: a push that fails or is interrupted leaves local reset
 * and the cloud exactly as it was, and says so (run reset again to finish).
 */
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { requireCloud } from '../config.js';
import type { Confirmer } from '../confirm.js';
import { assertCanConfirm, confirmOrStop, noConfirmation } from '../confirm.js';
import type { Client } from '../db/connect.js';
import { connect, withClient, withLockedClient, withTransaction } from '../db/connect.js';
import { CrmEnvError, InterruptedError, OperationError } from '../errors.js';
import { shownPath } from '../format.js';
import { endOnAbort, stopIfInterrupted } from '../interrupt.js';
import type { BackupResult } from '../migration/backup.js';
import { createBackup } from '../migration/backup.js';
import { applyOutsideFiles } from '../migration/apply.js';
import type { MigrationFile } from '../migration/files.js';
import { readMigrations } from '../migration/files.js';
import { restoreCommandLine } from '../db/backup-file.js';
import { rebuildPublicSchema } from '../migration/rebuild.js';
import { runPreflight } from '../preflight/preflight.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { NonTestDataReport } from './non-test-data.js';
import { findNonTestRows, refuseNonTestData } from './non-test-data.js';
import { checkPushable } from './preflight.js';
import type { SyncResult } from './sync.js';
import { syncPush } from './sync.js';
import type { CreateUsersResult } from './test-users.js';
import { testUserSpecs, writeTestUsers } from './test-users.js';
import { testUserPredicate } from './test-users-sql.js';

export interface ResetOptions {
  /** Asked to type RESET before anything happens (default: nobody can confirm, so it is refused). */
  readonly confirm?: Confirmer;
  readonly localOnly?: boolean;
  /** Stops the reset (Ctrl-C) before its next change; the step under way rolls back. */
  readonly signal?: AbortSignal;
  /** The user chose to remove the rows of non-test users (`--delete-non-test-data`). */
  readonly deleteNonTestData?: boolean;
}

export interface ResetResult {
  readonly backups: readonly BackupResult[];
  readonly migrationsApplied: number;
  readonly users: CreateUsersResult;
  readonly sync: SyncResult | null;
  /** Rows of non-test users the reset removed (only with `deleteNonTestData`). */
  readonly nonTestData: readonly NonTestDataReport[];
  readonly timings: Record<'backupMs' | 'localMs' | 'usersMs' | 'cloudMs' | 'totalMs', number>;
}

/** What has been done so far, for the sentence a failure or an interrupt ends with. */
interface Progress {
  readonly backups: BackupResult[];
  localReset: boolean;
}

interface ResetContext {
  readonly config: Config;
  readonly cloud: DatabaseTarget | null;
  readonly options: ResetOptions;
  readonly reporter: Reporter;
  readonly progress: Progress;
}

export async function resetEnvironment(
  config: Config,
  options: ResetOptions,
  reporter: Reporter = silentReporter,
): Promise<ResetResult> {
  const cloud = options.localOnly ? null : requireCloud(config, 'pass --local-only to reset local alone');
  const confirmer = options.confirm ?? noConfirmation;
  assertCanConfirm(confirmer, 'Reset');
  const ctx: ResetContext = {
    config,
    cloud,
    options,
    reporter,
    progress: { backups: [], localReset: false },
  };
  const t0 = performance.now();
  const nonTestData = await preflightReset(ctx);
  await confirmReset(ctx, confirmer);
  const tb = performance.now();
  await step(ctx, 'backing up', () => backUpBoth(ctx));
  const tl = performance.now();
  const local = await step(ctx, 'resetting local', () => resetLocal(ctx));
  const tc = performance.now();
  const sync = cloud ? await step(ctx, 'replacing the cloud data', () => resetCloud(ctx)) : null;
  return {
    backups: ctx.progress.backups,
    migrationsApplied: local.migrationsApplied,
    users: local.users,
    sync,
    nonTestData: options.deleteNonTestData ? nonTestData : [],
    timings: {
      backupMs: tl - tb,
      localMs: local.ms - local.users.ms,
      usersMs: local.users.ms,
      cloudMs: performance.now() - tc,
      totalMs: performance.now() - t0,
    },
  };
}

/** The databases the reset writes, with what it needs on each. */
function preflightDatabases(ctx: ResetContext, clients: readonly Client[]) {
  const ids = testUserSpecs(ctx.config).map((s) => s.id);
  const local = {
    target: ctx.config.local,
    client: clients[0],
    needs: ['bypass-rls', 'own-public', 'write-history', 'write-auth'] as const,
    backups: ['full'] as const,
    testUserIds: ids,
    upsertsIdentities: true,
  };
  if (!ctx.cloud) return [local];
  const cloud = {
    target: ctx.cloud,
    client: clients[1],
    needs: ['bypass-rls', 'replace-data', 'write-auth'] as const,
    backups: ['full', 'sync'] as const,
    testUserIds: ids,
  };
  return [local, cloud];
}

/**
 * Every read-only check before anything changes. Local is rebuilt and then holds only test data, so
 * every row of a non-test user goes, on local and on the cloud: refused unless chosen.
 */
async function preflightReset(ctx: ResetContext): Promise<NonTestDataReport[]> {
  const { config, cloud, options } = ctx;
  ctx.reporter.step('🔎 Preflight checks (read-only)...');
  const clients: Client[] = [];
  const stop = endOnAbort(options.signal, clients);
  try {
    for (const t of [config.local, ...(cloud ? [cloud] : [])])
      clients.push(await connect(t.url, { label: t.label }));
    await runPreflight(config, {
      command: 'reset',
      signal: options.signal,
      databases: preflightDatabases(ctx, clients),
    });
    const domain = config.testUsers.emailDomain;
    const labels = ['local', 'cloud'];
    const reports = await Promise.all(clients.map((c, i) => findNonTestRows(c, domain, labels[i]!)));
    refuseNonTestData(reports, options.deleteNonTestData ?? false, 'The reset would delete');
    stopIfInterrupted(options.signal, 'Reset interrupted during its read-only checks; nothing was changed.');
    ctx.reporter.info('✓ Both databases checked; nothing changed yet');
    return reports.filter((r) => r.rows > 0);
  } catch (err) {
    if (options.signal?.aborted && !(err instanceof InterruptedError))
      throw new InterruptedError('Reset interrupted during its read-only checks; nothing was changed.', {
        cause: err,
      });
    throw err;
  } finally {
    stop();
    await Promise.allSettled(clients.map((c) => c.end()));
  }
}

async function confirmReset(ctx: ResetContext, confirmer: Confirmer): Promise<void> {
  await confirmOrStop(confirmer, 'Reset', {
    message: ctx.cloud
      ? 'This deletes all data in the local and cloud databases and recreates the test data.'
      : 'This deletes all data in the local database and recreates the test data.',
    word: 'RESET',
  });
}

/** What is true after a failure or an interrupt, in one clause. */
function stateNow(p: Progress, cloud: boolean): string {
  if (p.localReset)
    return cloud
      ? 'local was reset, the cloud is unchanged (its transaction was rolled back); run reset again to finish'
      : 'local was reset';
  return 'nothing was changed';
}

/**
 * Runs one step. A failure, or Ctrl-C, ends the reset with one sentence saying where it stopped and
 * what is true now, and the backups taken so far as details.
 */
async function step<T>(ctx: ResetContext, what: string, run: () => Promise<T>): Promise<T> {
  const { progress, config, options } = ctx;
  const interrupted = (): string =>
    `Reset interrupted while ${what}; ${stateNow(progress, ctx.cloud !== null)}.`;
  stopIfInterrupted(options.signal, interrupted());
  try {
    const result = await run();
    stopIfInterrupted(options.signal, interrupted());
    return result;
  } catch (err) {
    const details = [
      ...(err instanceof CrmEnvError ? err.details : []),
      ...progress.backups.map(
        (b) => `Backup taken before the reset: ${shownPath(config.projectDir, b.file)}`,
      ),
      // The cloud only changes in the push's all-or-nothing transaction; local may be reset already.
      ...(progress.localReset && progress.backups[0]
        ? [`To go back (local): ${restoreCommandLine(config, progress.backups[0].file, config.local)}`]
        : []),
    ];
    if (err instanceof InterruptedError || options.signal?.aborted)
      throw new InterruptedError(interrupted(), { cause: err, details });
    const message = `Reset stopped while ${what}: ${err instanceof Error ? err.message : String(err)}`;
    throw new OperationError(`${message.replace(/\.?$/, '')}; ${stateNow(progress, ctx.cloud !== null)}.`, {
      cause: err,
      details,
    });
  }
}

async function backUpBoth(ctx: ResetContext): Promise<void> {
  ctx.reporter.step('💾 Backing up before the reset...');
  for (const target of [ctx.config.local, ...(ctx.cloud ? [ctx.cloud] : [])]) {
    const b = await createBackup(ctx.config, target, { kind: 'reset', signal: ctx.options.signal });
    ctx.progress.backups.push(b);
    ctx.reporter.info(`✓ ${target.label}: ${shownPath(ctx.config.projectDir, b.file)}`);
  }
}

/**
 * One local transaction: rebuild public from the migrations, drop the test users (their rows went with
 * the tables; other auth users stay), create them afresh with their data, and — before committing —
 * check that the cloud can take local's rows, so a cloud that cannot leaves local untouched too. A
 * migration with no in-transaction form (see rebuild.ts) is applied after the commit.
 */
async function resetLocal(
  ctx: ResetContext,
): Promise<{ migrationsApplied: number; users: CreateUsersResult; ms: number }> {
  const { config, reporter, options } = ctx;
  reporter.step('🔄 Resetting local database (rebuild public schema from migrations, fresh test users)...');
  const t = performance.now();
  const { files } = await readMigrations(config.migrationsDir);
  const lock = {
    label: 'local',
    lock: 'migrate',
    busyMessage: 'A crm-env migration is running on the local database; try again when it has finished.',
  } as const;
  const result = await withLockedClient(config.local.url, lock, async (client) => {
    const stop = endOnAbort(options.signal, [client]);
    try {
      const done = await withTransaction(client, () => rebuildWithTestUsers(ctx, client, files));
      ctx.progress.localReset = true;
      const after = await applyOutsideFiles(client, done.afterCommit, { reporter });
      return { migrationsApplied: done.applied + after.length, users: done.users };
    } finally {
      stop();
    }
  });
  reporter.info(
    `✓ Local reset complete (${result.migrationsApplied} migrations applied, ${result.users.users.length} test users)`,
  );
  return { ...result, ms: performance.now() - t };
}

/** Inside the local transaction: the rebuild, the test users, the check against the cloud. */
async function rebuildWithTestUsers(
  ctx: ResetContext,
  client: Client,
  files: readonly MigrationFile[],
): Promise<{ applied: number; afterCommit: readonly MigrationFile[]; users: CreateUsersResult }> {
  const { config, options } = ctx;
  const rebuilt = await rebuildPublicSchema(client, files);
  await client.query(`delete from auth.users where ${testUserPredicate(config.testUsers.emailDomain)}`);
  const users = await writeTestUsers(client, config);
  if (ctx.cloud) await checkCloudTakesLocal(ctx, ctx.cloud, client);
  stopIfInterrupted(options.signal, 'interrupted before the local commit');
  return { applied: rebuilt.applied.length, afterCommit: rebuilt.afterCommit, users };
}

/** The push's schema checks, against local as the open transaction sees it (read-only on both). */
async function checkCloudTakesLocal(ctx: ResetContext, cloud: DatabaseTarget, local: Client): Promise<void> {
  await withClient(cloud.url, (c) => checkPushable(local, c, ctx.config.testUsers.emailDomain), {
    label: 'cloud',
  });
}

async function resetCloud(ctx: ResetContext): Promise<SyncResult> {
  const { config, reporter, options } = ctx;
  reporter.step('☁️  Resetting cloud: replacing its data and test users with local (one transaction)...');
  const sync = await syncPush(
    config,
    { force: true, signal: options.signal, deleteNonTestData: options.deleteNonTestData },
    silentReporter,
  );
  reporter.info(`✓ Cloud data replaced; backup ${shownPath(config.projectDir, sync.backupFile)}`);
  reporter.info(
    `✓ Verified: ${sync.verify.tables.length} tables equal, ${sync.verify.users.length} test users equal`,
  );
  return sync;
}
