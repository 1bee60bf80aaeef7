/**
 * `dev:sync:push`: replace the cloud's data with local data, all or nothing.
 *
 * One cloud transaction does everything: lock the tables, write the backup, empty the tables, upsert
 * the test users, stream every table with COPY, move the sequences, and compare content checksums
 * with local (read from one consistent snapshot). It commits only when every table matches; any error,
 * lost connection or Ctrl-C rolls the cloud back to exactly what it was.
 */
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { describeTarget, requireCloud } from '../config.js';
import { formatBytes, shownPath } from '../format.js';
import type { TableChecksum } from '../db/checksum.js';
import { CANONICAL_OUTPUT_SQL, checksumTables, useCanonicalOutput } from '../db/checksum.js';
import type { Client } from '../db/connect.js';
import { connect, withAdvisoryLock } from '../db/connect.js';
import { quoteLiteral } from '../db/sql.js';
import { ConfigError, CrmEnvError, MismatchError, OperationError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import { preflight } from './preflight.js';
import { syncBackupPath, writeSyncBackup } from './sync-backup.js';
import type { AuthPair } from './sync-load.js';
import { fillStage, loadTables, planLoad, sequenceMoves, STAGING_TABLE_SQL } from './sync-load.js';
import { testUserPredicate } from './test-users-sql.js';
import type { VerifyReport } from './verify.js';
import { compareChecksums, verifyOpen } from './verify.js';

export interface SyncOptions {
  /** The user confirmed that the cloud is overwritten (`--force`). */
  readonly force: boolean;
  /** Aborts the push (Ctrl-C); the transaction rolls back. */
  readonly signal?: AbortSignal;
  /** How long to wait for table locks on the cloud before giving up. */
  readonly lockTimeout?: string;
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
  readonly verify: VerifyReport;
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

/**
 * Pushes local to cloud. Throws UsageError-like ConfigError without `force` (nothing touched),
 * OperationError/MismatchError (exit 1) after a rollback, naming the backup.
 */
export async function syncPush(
  config: Config,
  options: SyncOptions,
  reporter: Reporter = silentReporter,
): Promise<SyncResult> {
  const cloudTarget = requireCloud(config);
  if (!options.force) {
    const [first, ...rest] = confirmationMessage(cloudTarget);
    throw new ConfigError(first!, { details: rest });
  }
  const t0 = performance.now();
  const local = await connect(config.local.url, { label: 'local' });
  const clients: Client[] = [local];
  try {
    const cloud = await connect(cloudTarget.url, { label: 'cloud' });
    clients.push(cloud);
    const snapshotReader = await connect(config.local.url, { label: 'local' });
    clients.push(snapshotReader);
    const abort = (): void => {
      // Ending the sockets makes both servers roll back at once.
      for (const c of clients) void c.end().catch(() => undefined);
    };
    options.signal?.addEventListener('abort', abort, { once: true });

    reporter.step('🔎 Preflight checks (read-only)...');
    const pre = await preflight(local, cloud, config.testUsers.emailDomain);
    reporter.info(
      `✓ ${pre.localTables.length} tables match on both sides; ${pre.testUserIds.length} test users to carry`,
    );
    for (const t of pre.cloudOnlyTables) reporter.warn(`Cloud-only table ${t} is left untouched.`);
    const preflightMs = performance.now() - t0;

    return await withAdvisoryLock(
      cloud,
      'sync',
      () =>
        transfer({
          config,
          cloudTarget,
          local,
          cloud,
          snapshotReader,
          pre,
          options,
          reporter,
          t0,
          preflightMs,
        }),
      'Another crm-env push (or reset) is running against the cloud; wait for it to finish and try again.',
    );
  } catch (err) {
    if (options.signal?.aborted && !(err instanceof CrmEnvError)) {
      throw new OperationError(
        'Push interrupted; the cloud transaction was rolled back and nothing changed.',
        { cause: err },
      );
    }
    throw err;
  } finally {
    await Promise.allSettled(clients.map((c) => c.end()));
  }
}

interface TransferContext {
  readonly config: Config;
  readonly cloudTarget: DatabaseTarget;
  readonly local: Client;
  readonly cloud: Client;
  readonly snapshotReader: Client;
  readonly pre: Awaited<ReturnType<typeof preflight>>;
  readonly options: SyncOptions;
  readonly reporter: Reporter;
  readonly t0: number;
  readonly preflightMs: number;
}

async function transfer(ctx: TransferContext): Promise<SyncResult> {
  const { config, local, cloud, snapshotReader, pre, options, reporter } = ctx;
  const domain = config.testUsers.emailDomain;
  const pred = testUserPredicate(domain);
  const cloudByName = new Map(pre.cloudTables.map((t) => [t.name, t]));
  const tables = pre.localTables;
  const authPair = (name: string): AuthPair => {
    const l = pre.localAuth.find((t) => t.name === name)!;
    const c = pre.cloudAuth.find((t) => t.name === name)!;
    // GoTrue versions differ between local and cloud: carry the columns both sides can store.
    const cloudCols = new Set(c.copyColumns);
    return { local: l, cloud: c, columns: l.copyColumns.filter((col) => cloudCols.has(col)) };
  };
  const users = authPair('users');
  const identities = authPair('identities');
  let backupFile = syncBackupPath(config.backupDir);

  // Local: one snapshot for the transfer and, in parallel on a second session, for the checksums.
  await useCanonicalOutput(local);
  await local.query('begin isolation level repeatable read read only');
  const { rows: snap } = await local.query<{ id: string }>('select pg_export_snapshot() as id');
  await snapshotReader.query('begin isolation level repeatable read read only');
  await snapshotReader.query(`set transaction snapshot '${snap[0]!.id.replace(/'/g, "''")}'`);
  const localChecksums: Promise<TableChecksum[]> = checksumTables(snapshotReader, tables, (t) =>
    t.columns.map((c) => c.name),
  );
  localChecksums.catch(() => undefined);

  const pairs = tables.map((t) => ({ local: t, cloud: cloudByName.get(t.name)! }));
  const plan = await planLoad(local, pairs, users, pred);
  const moves = await sequenceMoves(local, pairs);

  // One round trip: canonical output, BEGIN, lock timeout, the table locks and the staging tables.
  // Writers wait (or time out) from here on, so the backup is exactly what gets replaced.
  const lockList = tables.map((t) => cloudByName.get(t.name)!.qualified).join(', ');
  await cloud.query(
    [
      CANONICAL_OUTPUT_SQL,
      'begin',
      `select set_config('lock_timeout', ${quoteLiteral(options.lockTimeout ?? '10s')}, true)`,
      `lock table ${lockList} in exclusive mode`,
      STAGING_TABLE_SQL,
    ].join(';\n'),
  );
  try {
    reporter.step('💾 Backing up cloud database...');
    const tb = performance.now();
    const backup = await writeSyncBackup(
      cloud,
      config,
      tables.map((t) => cloudByName.get(t.name)!),
      users.cloud,
      identities.cloud,
      domain,
      [
        'crm-env sync backup: the cloud data a push replaced.',
        `Cloud: ${redactUrl(ctx.cloudTarget.url)}`,
        `Taken: ${new Date().toISOString()}`,
        'Restore: crm-env restore <this file> --target cloud   (or: psql -1 -v ON_ERROR_STOP=1 -f <this file> "$DATABASE_URL_PRODUCTION")',
      ],
    );
    backupFile = backup.file;
    const backupMs = performance.now() - tb;
    reporter.info(
      `✓ Backup created: ${shownPath(config.projectDir, backup.file)} (${backup.rows} rows, ${backup.testUsers} test users, ${formatBytes(backup.bytes)})`,
    );

    reporter.step('📥 Replacing cloud data with local data (inside the transaction)...');
    const tt = performance.now();
    const load = { local, cloud, plan, users, identities, pred, signal: options.signal };
    await fillStage(load);
    const results = await loadTables(load, moves.sql, (name, i, n) =>
      reporter.progress(`loading ${name}`, i, n),
    );
    reporter.progress('loading', tables.length, tables.length);
    const totalRows = results.reduce((a, r) => a + r.rows, 0);
    const testUsers = plan.testUsers;
    const sequences = moves.count;
    reporter.info(
      `✓ Truncated ${tables.length} tables and imported ${totalRows.toLocaleString('en-US')} rows`,
    );
    reporter.info(`✓ Synced ${testUsers} test users (passwords kept; other users untouched)`);
    const transferMs = performance.now() - tt;

    reporter.step('🔍 Verifying before commit (row counts and content checksums)...');
    const tv = performance.now();
    // The cloud side hashes local's columns: a cloud-only column (allowed by preflight when it is
    // nullable or has a default) is not something the push copies, so it must not make it fail.
    const localColumns = new Map(tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
    const cloudSums = await checksumTables(
      cloud,
      tables.map((t) => cloudByName.get(t.name)!),
      (t) => localColumns.get(t.name)!,
    );
    const localSums = await localChecksums;
    const verify = await verifyOpen(local, cloud, compareChecksums(localSums, cloudSums), domain);
    const verifyMs = performance.now() - tv;
    if (!verify.tablesEqual || !verify.usersEqual) {
      throw new MismatchError(
        'The cloud data did not match local after the copy; the push was rolled back.',
        {
          details: verify.tables
            .filter((t) => !t.equal)
            .map((t) =>
              t.local && t.cloud && t.local.rows === t.cloud.rows
                ? `${t.table}: ${t.local.rows} rows on both sides, but the content checksums differ (a trigger or rule on the cloud changed rows?)`
                : `${t.table}: local ${t.local?.rows ?? 'missing'} rows, cloud ${t.cloud?.rows ?? 'missing'}`,
            ),
        },
      );
    }
    await cloud.query('commit');
    await local.query('commit');
    return {
      cloud: redactUrl(ctx.cloudTarget.url),
      backupFile,
      backupBytes: backup.bytes,
      tables: results,
      totalRows,
      testUsers,
      sequences,
      verify,
      timings: {
        preflightMs: ctx.preflightMs,
        backupMs,
        transferMs,
        verifyMs,
        totalMs: performance.now() - ctx.t0,
      },
    };
  } catch (err) {
    await cloud.query('rollback').catch(() => undefined);
    if (err instanceof CrmEnvError) {
      throw new (err.constructor as new (m: string, o: object) => CrmEnvError)(err.message, {
        cause: err,
        details: [...err.details, ...rollbackNote(config, backupFile)],
      });
    }
    const where = (err as { table?: string }).table;
    throw new OperationError(
      `Push failed${where ? ` at table ${where}` : ''}: ${redactText((err as Error).message, config.secrets)}; the cloud transaction was rolled back and nothing changed.`,
      { cause: err, details: rollbackNote(config, backupFile) },
    );
  }
}

function rollbackNote(config: Config, backupFile: string): string[] {
  return [`Backup of the cloud as it was: ${shownPath(config.projectDir, backupFile)} (if it was written)`];
}
