/**
 * `dev:sync:push`: replace the cloud's data with local data, all or nothing.
 *
 * Steps, each a function below: open the sessions → preflight (read-only, both sides: the common
 * checks, the push's schema checks, and the non-test users' rows it would remove) → take the local
 * snapshot → plan → lock the cloud tables → re-check non-test rows under the lock → back up → load →
 * verify → commit. One cloud transaction does everything from the lock on; it commits only when every
 * table's content checksum matches local, and any error, lost connection or Ctrl-C rolls the cloud
 * back to exactly what it was.
 */
import { performance } from 'node:perf_hooks';
import type { QueryResult } from 'pg';
import type { Config, DatabaseTarget } from '../config.js';
import { describeTarget, requireCloud } from '../config.js';
import { formatBytes, formatCount, shownPath } from '../format.js';
import { rememberServerVersion, SERVER_VERSION_SQL } from '../db/backup-manifest.js';
import type { BulkLoadReport, BulkPlan } from '../db/bulk-load.js';
import { bulkLoadReport, dropForBulkLoad, planBulkLoad, restoreAfterBulkLoad } from '../db/bulk-load.js';
import type { TableInfo } from '../db/catalog.js';
import type { TableChecksum } from '../db/checksum.js';
import { CANONICAL_OUTPUT_SQL, checksumsRead, checksumTables, useCanonicalOutput } from '../db/checksum.js';
import type { AdvisoryUnlock, Client } from '../db/connect.js';
import { connect, openSessionProbe, withAdvisoryLockTakenBy } from '../db/connect.js';
import type { RefreshResult } from '../db/matviews.js';
import { matviewsFrom, matviewsSql, readMatviews, refreshMatviews } from '../db/matviews.js';
import { mapRead } from '../db/read-together.js';
import { tableSequencesFrom, tableSequencesSql } from '../db/sequences.js';
import { quoteLiteral } from '../db/sql.js';
import { ConfigError, CrmEnvError, InterruptedError, MismatchError, OperationError } from '../errors.js';
import { endOnAbort, interruptible, stopIfInterrupted } from '../interrupt.js';
import { runPreflight } from '../preflight/preflight.js';
import { redactText, redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { NonTestDataReport, Ownership, PushRemovalCheck } from './non-test-data.js';
import {
  describeNonTestData,
  NonTestDataError,
  ownershipOf,
  pushRemovalCheck,
  refuseNonTestData,
} from './non-test-data.js';
import type { PreflightResult } from './preflight.js';
import { checkPushable, localTestUserIds } from './preflight.js';
import type { SyncBackupResult } from './sync-backup.js';
import { syncBackupPath, writeSyncBackup } from './sync-backup.js';
import type { AuthPair, LoadContext, LoadPlan } from './sync-load.js';
import { fillStage, loadTables, planLoad, sequenceMoves, STAGING_TABLE_SQL } from './sync-load.js';
import { testUserPredicate } from './test-users-sql.js';
import type { VerifyReport } from './verify.js';
import { compareChecksums, verifyOpen } from './verify.js';

export interface SyncOptions {
  /** The user confirmed that the cloud is overwritten (`--force`). */
  readonly force: boolean;
  /** Aborts the push (Ctrl-C): connections end, the transaction rolls back. */
  readonly signal?: AbortSignal;
  /** How long to wait for table locks on the cloud before giving up. */
  readonly lockTimeout?: string;
  /**
   * The user chose to let the push remove the cloud rows of non-test users that local does not hold
   * (`--delete-non-test-data`). Without it such rows make the push refuse, changing nothing.
   */
  readonly deleteNonTestData?: boolean;
}

export interface TableSyncResult {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
  readonly ms: number;
}

export interface SyncResult {
  readonly cloud: string;
  readonly backupFile: string;
  readonly backupBytes: number;
  readonly tables: readonly TableSyncResult[];
  readonly totalRows: number;
  readonly testUsers: number;
  readonly sequences: number;
  /**
   * Materialized views in public refreshed after the load, and those that could not be (they keep
   * their old rows; each is also a warning).
   */
  readonly matviews: RefreshResult;
  /** Rows of non-test users the push removed (only with `deleteNonTestData`; else always empty). */
  readonly nonTestData: NonTestDataReport;
  readonly verify: VerifyReport;
  /** Tables loaded through the bulk path (indexes and foreign keys re-created after the load). */
  readonly bulkLoad: BulkLoadReport;
  readonly timings: {
    readonly preflightMs: number;
    readonly backupMs: number;
    readonly transferMs: number;
    readonly verifyMs: number;
    readonly totalMs: number;
  };
}

/** The message shown when `--force` is missing: the spec's warning, with the URL redacted. */
export function confirmationMessage(cloud: DatabaseTarget): string[] {
  return [
    'This will OVERWRITE cloud database with local data.',
    `Cloud URL: ${describeTarget(cloud)}`,
    '',
    'Run with --force to confirm:',
    'npm run dev:sync:push -- --force',
  ];
}

/** The three sessions of a push: local (transfer), cloud (the transaction), local (checksums). */
export interface Sessions {
  readonly local: Client;
  readonly cloud: Client;
  readonly snapshotReader: Client;
}

/** Everything the steps after the preflight share. */
interface PushContext extends Sessions {
  readonly config: Config;
  readonly cloudTarget: DatabaseTarget;
  readonly options: SyncOptions;
  readonly reporter: Reporter;
  readonly pre: PreflightResult;
  readonly nonTestData: NonTestDataReport;
  /** The cloud's ownership walk (catalog), read once by the preflight and reused under the lock. */
  readonly ownership: Ownership;
  readonly t0: number;
  readonly preflightMs: number;
}

/** What planning a transfer needs (the dry run plans from this too, without the lock). */
export type PlanInput = Pick<PushContext, 'local' | 'cloud' | 'config' | 'options' | 'reporter' | 'pre'>;

/** What the cloud transaction works from: table pairs, the load plan, sequence moves, auth columns. */
export interface TransferPlan {
  readonly cloudTables: readonly TableInfo[];
  readonly load: LoadContext;
  readonly moves: { readonly sql: readonly string[]; readonly count: number };
  readonly bulk: BulkPlan;
}

/**
 * Pushes local to cloud. Throws ConfigError without `force` (nothing touched); the preflight's errors
 * (exit 2 or 1, nothing touched); InterruptedError on Ctrl-C; OperationError/MismatchError (exit 1)
 * after a rollback, naming the backup.
 */
export async function syncPush(
  config: Config,
  options: SyncOptions,
  reporter: Reporter = silentReporter,
): Promise<SyncResult> {
  const cloudTarget = requireCloud(config);
  refuseWithoutForce(options, cloudTarget);
  const t0 = performance.now();
  stopIfInterrupted(options.signal, 'Push interrupted before it started; nothing was changed.');
  const sessions = await openSessions(config, cloudTarget);
  // The pooler check's second connection signs in while the preflight runs (see assertOwnSession).
  const probe = openSessionProbe(sessions.cloud);
  const stopEnding = endOnAbort(options.signal, [sessions.local, sessions.cloud, sessions.snapshotReader]);
  try {
    const { pre, nonTestData, ownership, pid } = await interruptible(
      options.signal,
      'Push interrupted during its read-only checks; nothing was changed.',
      () => preflightPush(config, cloudTarget, sessions, options, reporter),
    );
    const ctx: PushContext = {
      ...sessions,
      config,
      cloudTarget,
      options,
      reporter,
      pre,
      nonTestData,
      ownership,
      t0,
      preflightMs: performance.now() - t0,
    };
    // The advisory lock is taken by the table-lock query, its first statement (see lockCloudTables).
    return await withAdvisoryLockTakenBy(
      sessions.cloud,
      'sync',
      (take, unlock) => replaceCloudData(ctx, take, unlock),
      'Another crm-env push (or reset) is running against the cloud; wait for it to finish and try again.',
      { pid, probe },
    );
  } catch (err) {
    throw asInterrupted(err, options.signal);
  } finally {
    stopEnding();
    await Promise.allSettled([
      ...[sessions.local, sessions.cloud, sessions.snapshotReader].map((c) => c.end()),
      probe.then((c) => c?.end()),
    ]);
  }
}

function refuseWithoutForce(options: SyncOptions, cloud: DatabaseTarget): void {
  if (options.force) return;
  const [first, ...rest] = confirmationMessage(cloud);
  throw new ConfigError(first!, { details: rest });
}

/** An error after Ctrl-C, said as what it is: the cloud was rolled back, nothing changed. */
function asInterrupted(err: unknown, signal: AbortSignal | undefined): unknown {
  if (!signal?.aborted || err instanceof InterruptedError) return err;
  return new InterruptedError(
    'Push interrupted; the cloud transaction was rolled back and nothing changed.',
    {
      cause: err,
      details: err instanceof CrmEnvError ? err.details : [],
    },
  );
}

export async function openSessions(config: Config, cloudTarget: DatabaseTarget): Promise<Sessions> {
  // All three at once: the cloud's sign-in round trips overlap local's.
  const tries = await Promise.allSettled([
    connect(config.local.url, { label: 'local' }),
    connect(cloudTarget.url, { label: 'cloud' }),
    connect(config.local.url, { label: 'local' }),
  ]);
  const failed = tries.find((t) => t.status === 'rejected');
  const opened = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
  if (failed) {
    await Promise.allSettled(opened.map((c) => c.end()));
    throw failed.reason;
  }
  const [local, cloud, snapshotReader] = opened as [Client, Client, Client];
  return { local, cloud, snapshotReader };
}

/**
 * Every read-only check, on both sides, before the first change: the common preflight, the push's
 * schema checks, and the non-test users' rows the push would remove (refused unless chosen).
 */
async function preflightPush(
  config: Config,
  cloudTarget: DatabaseTarget,
  s: Sessions,
  options: SyncOptions,
  reporter: Reporter,
): Promise<{ pre: PreflightResult; nonTestData: NonTestDataReport; ownership: Ownership; pid?: number }> {
  reporter.step('🔎 Preflight checks (read-only)...');
  const { pre, nonTestData, ownership, pid } = await inspectPush(config, cloudTarget, s, options.signal);
  refuseNonTestData([nonTestData], options.deleteNonTestData ?? false, 'The push would delete or overwrite');
  reporter.info(
    `✓ ${pre.localTables.length} tables match on both sides; ${pre.testUserIds.length} test users to carry`,
  );
  for (const line of describeNonTestData([nonTestData]))
    reporter.warn(`Removing as asked (--delete-non-test-data): ${line}`);
  for (const t of pre.cloudOnlyTables) reporter.warn(`Cloud-only table ${t} is left untouched.`);
  return { pre, nonTestData, ownership, pid };
}

/**
 * The push's read-only checks (common preflight and schema checks; their errors are thrown) and the
 * non-test users' rows it would remove, reported without refusing: the push refuses on them, the dry
 * run (sync-plan.ts) lists them.
 */
export async function inspectPush(
  config: Config,
  cloudTarget: DatabaseTarget,
  s: Pick<Sessions, 'local' | 'cloud'>,
  signal: AbortSignal | undefined,
): Promise<{ pre: PreflightResult; nonTestData: NonTestDataReport; ownership: Ownership; pid?: number }> {
  const domain = config.testUsers.emailDomain;
  await runPreflight(config, {
    command: 'sync push',
    signal,
    databases: [
      { target: config.local, client: s.local, needs: ['bypass-rls', 'read-data'] },
      {
        target: cloudTarget,
        client: s.cloud,
        needs: ['bypass-rls', 'replace-data', 'write-auth'],
        backups: ['sync'],
        testUserIds: await localTestUserIds(s.local, domain),
      },
    ],
  });
  const pre = await checkPushable(s.local, s.cloud, domain);
  // checkPushable found auth.users on the cloud and read its public tables and foreign keys.
  const ownership = ownershipOf(pre.cloudTables, pre.cloudForeignKeys);
  const check = pushRemovalCheck(s.local, s.cloud, ownership, domain, pre.localTables);
  // Along with it: the session's pid (the pooler probe of the advisory lock compares another with
  // it), and the catalog of the cloud's sequences and materialized views, which the plan, backup,
  // refresh and verify then take from memory (catalog, read once like the tables by the preflight).
  const results = (await s.cloud.query(
    [
      CANONICAL_OUTPUT_SQL,
      'select pg_backend_pid() as pid',
      tableSequencesSql('public'),
      matviewsSql('public'),
      ...(check.sql ? [check.sql] : []),
    ].join(';\n'),
  )) as unknown as QueryResult[];
  tableSequencesFrom(results[2]!.rows, { client: s.cloud, schema: 'public' });
  matviewsFrom(results[3]!.rows, 'public', s.cloud);
  const nonTestData = await check.answer(check.sql ? results.at(-1)!.rows : []);
  // Naming the owners asked the cloud once more: then the probe reads the pid itself.
  const pid = nonTestData.users.length === 0 ? Number(results[1]!.rows[0]!.pid) : undefined;
  return { pre, nonTestData, ownership, pid };
}

/**
 * Snapshot and plan (read-only), then the advisory lock (`take`) and the table locks in one round
 * trip, then the one cloud transaction.
 */
async function replaceCloudData(ctx: PushContext, take: string, unlock: AdvisoryUnlock): Promise<SyncResult> {
  const localChecksums = await openLocalSnapshot(ctx);
  const plan = await planTransfer(ctx);
  const recheck = await lockCloudTables(ctx, plan, take);
  let backupFile = syncBackupPath(ctx.config.backupDir);
  try {
    await recheck();
    const backup = await backUpCloud(ctx, plan);
    backupFile = backup.file;
    const load = await loadIntoCloud(ctx, plan);
    const verify = await verifyBeforeCommit(ctx, plan, localChecksums.sums);
    // COMMIT and the advisory lock's release in one round trip (a failed COMMIT leaves the release
    // to withAdvisoryLock).
    await ctx.cloud.query(`commit;\n${unlock.sql}`);
    unlock.sent();
    await ctx.local.query('commit');
    return {
      cloud: redactUrl(ctx.cloudTarget.url),
      backupFile,
      backupBytes: backup.bytes,
      tables: load.results,
      totalRows: load.totalRows,
      testUsers: plan.load.plan.testUsers,
      sequences: plan.moves.count,
      matviews: load.matviews,
      nonTestData: ctx.nonTestData,
      verify: verify.report,
      bulkLoad: bulkLoadReport(plan.bulk, ctx.config.syncBulkMinRows, load.rebuildMs),
      timings: {
        preflightMs: ctx.preflightMs,
        backupMs: backup.ms,
        transferMs: load.ms,
        verifyMs: verify.ms,
        totalMs: performance.now() - ctx.t0,
      },
    };
  } catch (err) {
    await ctx.cloud.query('rollback').catch(() => undefined);
    throw explainFailure(err, ctx.config, backupFile);
  }
}

/**
 * Local: one snapshot for the transfer and, in parallel on a second session, for the checksums.
 * Returns the checksums' promise (they are awaited at verification).
 */
async function openLocalSnapshot(ctx: PushContext): Promise<{ sums: Promise<TableChecksum[]> }> {
  const { local, snapshotReader, pre } = ctx;
  await useCanonicalOutput(local);
  await local.query('begin isolation level repeatable read read only');
  const { rows: snap } = await local.query<{ id: string }>('select pg_export_snapshot() as id');
  await snapshotReader.query('begin isolation level repeatable read read only');
  await snapshotReader.query(`set transaction snapshot ${quoteLiteral(snap[0]!.id)}`);
  const sums = checksumTables(snapshotReader, pre.localTables, (t) => t.columns.map((c) => c.name));
  sums.catch(() => undefined);
  return { sums };
}

/** Pairs local and cloud tables and auth columns, counts local rows, plans the sequence moves. */
export async function planTransfer(ctx: PlanInput): Promise<TransferPlan> {
  const { local, cloud, pre, config, options } = ctx;
  const pred = testUserPredicate(config.testUsers.emailDomain);
  const cloudByName = new Map(pre.cloudTables.map((t) => [t.name, t]));
  const authPair = (name: string): AuthPair => {
    const l = pre.localAuth.find((t) => t.name === name)!;
    const c = pre.cloudAuth.find((t) => t.name === name)!;
    // GoTrue versions differ between local and cloud: carry the columns both sides can store.
    const cloudCols = new Set(c.copyColumns);
    return { local: l, cloud: c, columns: l.copyColumns.filter((col) => cloudCols.has(col)) };
  };
  const users = authPair('users');
  const identities = authPair('identities');
  const pairs = pre.localTables.map((t) => ({ local: t, cloud: cloudByName.get(t.name)! }));
  const plan: LoadPlan = await planLoad(local, pairs, users, pred);
  const moves = await sequenceMoves(local, cloud);
  const bulk = await planBulkLoad(cloud, plan.tables, config.syncBulkMinRows);
  if (bulk.notOwned.length > 0)
    ctx.reporter.warn(
      `The cloud role does not own ${bulk.notOwned.join(', ')}: loading with their indexes and foreign keys in place (slower).`,
    );
  const load = { local, cloud, plan, users, identities, pred, signal: options.signal };
  return { cloudTables: pairs.map((p) => p.cloud), load, moves, bulk };
}

/**
 * One round trip: the advisory lock (`take`, first: when another push holds it, nothing after it
 * runs), the server version (for the backup's manifest), canonical output, BEGIN, lock timeout, the
 * table locks, the staging table and, under the locks, the second look for non-test users' rows,
 * judged by the returned function (see {@link recheckNonTestRows}).
 * Writers wait (or time out) from here on, so the backup is exactly what gets replaced.
 */
async function lockCloudTables(
  ctx: PushContext,
  plan: TransferPlan,
  take: string,
): Promise<() => Promise<void>> {
  const recheck = ctx.options.deleteNonTestData
    ? null
    : pushRemovalCheck(
        ctx.local,
        ctx.cloud,
        ctx.ownership,
        ctx.config.testUsers.emailDomain,
        ctx.pre.localTables,
      );
  const results = (await ctx.cloud.query(
    [
      take,
      SERVER_VERSION_SQL,
      CANONICAL_OUTPUT_SQL,
      'begin',
      `select set_config('lock_timeout', ${quoteLiteral(ctx.options.lockTimeout ?? '10s')}, true)`,
      `lock table ${plan.cloudTables.map((t) => t.qualified).join(', ')} in exclusive mode`,
      STAGING_TABLE_SQL,
      ...(recheck?.sql ? [recheck.sql] : []),
    ].join(';\n'),
  )) as unknown as QueryResult[];
  rememberServerVersion(ctx.cloud, results[1]!.rows[0]!);
  const rows = recheck?.sql ? results.at(-1)!.rows : [];
  return async () => {
    if (recheck) await recheckNonTestRows(recheck, rows);
  };
}

/**
 * The preflight looked before the lock; a non-test user may have written since. Under the lock
 * nothing changes any more: the lock's round trip looked again; refuse the same way.
 */
async function recheckNonTestRows(
  check: PushRemovalCheck,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  refuseNonTestData([await check.answer(rows)], false, 'The push would delete or overwrite');
}

async function backUpCloud(ctx: PushContext, plan: TransferPlan): Promise<SyncBackupResult & { ms: number }> {
  const { config, reporter } = ctx;
  reporter.step('💾 Backing up cloud database...');
  const t = performance.now();
  const backup = await writeSyncBackup(
    ctx.cloud,
    config,
    plan.cloudTables,
    plan.load.users.cloud,
    plan.load.identities.cloud,
    config.testUsers.emailDomain,
    [
      'crm-env sync backup: the cloud data a push replaced.',
      `Cloud: ${redactUrl(ctx.cloudTarget.url)}`,
      `Taken: ${new Date().toISOString()}`,
      'Restore: crm-env restore <this file> --target cloud   (or: psql -1 -v ON_ERROR_STOP=1 -f <this file> "$DATABASE_URL_PRODUCTION")',
    ],
    new Set(plan.load.plan.tables.filter((t) => t.staged).map((t) => t.cloud)),
  );
  reporter.info(
    `✓ Backup created: ${shownPath(config.projectDir, backup.file)} (${backup.rows} rows, ${backup.testUsers} test users, ${formatBytes(backup.bytes)})`,
  );
  return { ...backup, ms: performance.now() - t };
}

async function loadIntoCloud(
  ctx: PushContext,
  plan: TransferPlan,
): Promise<{
  results: TableSyncResult[];
  totalRows: number;
  ms: number;
  rebuildMs: number;
  matviews: RefreshResult;
}> {
  const { reporter } = ctx;
  reporter.step('📥 Replacing cloud data with local data (inside the transaction)...');
  const t = performance.now();
  const n = plan.cloudTables.length;
  await dropForBulkLoad(ctx.cloud, plan.bulk);
  await fillStage(plan.load);
  const results = await loadTables(plan.load, plan.moves.sql, (name, i) =>
    reporter.progress({ label: `loading ${name}`, done: i, total: n, unit: 'tables' }),
  );
  reporter.progress({ label: 'loading', done: n, total: n, unit: 'tables' });
  const rebuildMs = await rebuildAfterBulkLoad(ctx, plan.bulk);
  const totalRows = results.reduce((a, r) => a + r.rows, 0);
  reporter.info(`✓ Truncated ${n} tables and imported ${formatCount(totalRows)} rows`);
  const removed = ctx.nonTestData.rows;
  reporter.info(
    `✓ Synced ${plan.load.plan.testUsers} test users (passwords kept; other auth users kept as they were${removed > 0 ? `; ${removed} rows of non-test users removed as asked` : ''})`,
  );
  const matviews = await refreshCloudMatviews(ctx);
  return { results, totalRows, ms: performance.now() - t, rebuildMs, matviews };
}

/** After the load, inside the transaction: the views computed from the tables, refreshed in order. */
async function refreshCloudMatviews(ctx: PushContext): Promise<RefreshResult> {
  const [localViews, cloudViews] = await Promise.all([readMatviews(ctx.local), readMatviews(ctx.cloud)]);
  if (cloudViews.length === 0) return { refreshed: [], failed: [] };
  const result = await refreshMatviews(ctx.cloud, cloudViews, localViews);
  if (result.refreshed.length > 0)
    ctx.reporter.info(`✓ Refreshed ${result.refreshed.length} materialized views`);
  for (const f of result.failed)
    ctx.reporter.warn(
      `Materialized view ${f.view} could not be refreshed and keeps its old rows: ${redactText(f.error, ctx.config.secrets)}`,
    );
  return {
    refreshed: result.refreshed,
    failed: result.failed.map((f) => ({ view: f.view, error: redactText(f.error, ctx.config.secrets) })),
  };
}

/** The bulk path's second half: indexes and foreign keys back, exactly as they were. */
async function rebuildAfterBulkLoad(ctx: PushContext, bulk: BulkPlan): Promise<number> {
  if (bulk.objects.length === 0) return 0;
  const t = performance.now();
  ctx.reporter.progress({
    label: 'rebuilding indexes and foreign keys',
    done: 0,
    total: bulk.objects.length,
    unit: 'objects',
    note: 'indexes first, then each foreign key validated by one scan',
  });
  await restoreAfterBulkLoad(ctx.cloud, bulk);
  const n = bulk.objects.length;
  ctx.reporter.progress({
    label: 'rebuilding indexes and foreign keys',
    done: n,
    total: n,
    unit: 'objects',
    final: true,
  });
  const ms = performance.now() - t;
  const r = bulkLoadReport(bulk, ctx.config.syncBulkMinRows, ms);
  ctx.reporter.info(
    `✓ Bulk load${r.tables.length > 0 ? ` of ${r.tables.join(', ')}` : ''}: re-created ${r.indexes} indexes and ${r.foreignKeys} foreign keys${r.cycleForeignKeys.length > 0 ? ` (${r.cycleForeignKeys.length} of them form a cycle)` : ''}, catalog identical to before`,
  );
  return ms;
}

async function verifyBeforeCommit(
  ctx: PushContext,
  plan: TransferPlan,
  localChecksums: Promise<TableChecksum[]>,
): Promise<{ report: VerifyReport; ms: number }> {
  ctx.reporter.step('🔍 Verifying before commit (row counts and content checksums)...');
  const t = performance.now();
  // The cloud side hashes local's columns: a cloud-only column (allowed by preflight when it is
  // nullable or has a default) is not something the push copies, so it must not make it fail.
  const localColumns = new Map(ctx.pre.localTables.map((lt) => [lt.name, lt.columns.map((c) => c.name)]));
  // Their checksums go with the cloud's test users and sequence counters: one round trip.
  const localSums = await localChecksums;
  const cloudSums = checksumsRead(plan.cloudTables, (ct) => localColumns.get(ct.name)!);
  const report = await verifyOpen(
    ctx.local,
    ctx.cloud,
    mapRead(cloudSums, (sums) => compareChecksums(localSums, sums)),
    ctx.config.testUsers.emailDomain,
  );
  // A sequence on one side only is schema drift, not something the push moves.
  const behind = report.sequences.filter((x) => !x.ok && x.localNext !== null && x.cloudNext !== null);
  if (!report.tablesEqual || !report.usersEqual || behind.length > 0) {
    throw new MismatchError('The cloud data did not match local after the copy; the push was rolled back.', {
      details: [
        ...report.tables
          .filter((x) => !x.equal)
          .map((x) =>
            x.local && x.cloud && x.local.rows === x.cloud.rows
              ? `${x.table}: ${x.local.rows} rows on both sides, but the content checksums differ (a trigger or rule on the cloud changed rows?)`
              : `${x.table}: local ${x.local?.rows ?? 'missing'} rows, cloud ${x.cloud?.rows ?? 'missing'}`,
          ),
        ...behind.map(
          (x) =>
            `sequence ${x.sequence}: cloud's next value ${x.cloudNext ?? 'missing'}, local's ${x.localNext ?? 'missing'}`,
        ),
      ],
    });
  }
  return { report, ms: performance.now() - t };
}

/** A failure inside the transaction (already rolled back), said as one sentence naming the backup. */
function explainFailure(err: unknown, config: Config, backupFile: string): CrmEnvError {
  const note = [
    `Backup of the cloud as it was: ${shownPath(config.projectDir, backupFile)} (if it was written)`,
  ];
  // Refused under the lock: nothing was written yet, and the refusal carries its report.
  if (err instanceof NonTestDataError) return err;
  if (err instanceof CrmEnvError) {
    return new (err.constructor as new (m: string, o: object) => CrmEnvError)(err.message, {
      cause: err,
      details: [...err.details, ...note],
    });
  }
  const where = (err as { table?: string }).table;
  return new OperationError(
    `Push failed${where ? ` at table ${where}` : ''}: ${redactText((err as Error).message, config.secrets)}; the cloud transaction was rolled back and nothing changed.`,
    { cause: err, details: note },
  );
}
