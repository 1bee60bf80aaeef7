/**
 * `crm-env migrate deploy [local|cloud]` — the spec's deploy-safe.sh, made safe where the script was not:
 * advisory lock → read-only checks (history, the static checks `migrate validate` runs) → a real dry run
 * (every pending file applied inside a transaction that is rolled back, post-migration checks included,
 * rows changed and removed reported per statement) → confirmation (not local) → backup → apply everything
 * in ONE transaction with lock_timeout and bounded retries, the post-migration checks before COMMIT → files
 * that cannot run in a transaction, on their own. A failure before the commit — a statement or a check —
 * leaves the target exactly as it was; the message says which file and line, and where the backup is. Only
 * a failure after the commit prints a way back (the restore command).
 */
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { describeTarget } from '../config.js';
import type { Confirmer } from '../confirm.js';
import { assertCanConfirm, confirmOrStop, noConfirmation } from '../confirm.js';
import type { Client } from '../db/connect.js';
import { withLockedClient } from '../db/connect.js';
import { requirePgDump } from '../db/pg-dump.js';
import { OperationError, UsageError } from '../errors.js';
import { shownPath } from '../format.js';
import { redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { ApplyOptions, FileOutcome } from './apply.js';
import { ApplyFailedError, applyMigrations } from './apply.js';
import { createBackup } from './backup.js';
import { restoreCommandLine } from '../db/backup-file.js';
import { endOnAbort, interruptible } from '../interrupt.js';
import { runPreflight } from '../preflight/preflight.js';
import { deployPreflightPlan } from '../preflight/migration-needs.js';
import type { Finding } from './checks.js';
import { formatFinding, readTargetFacts, runStaticChecks } from './checks.js';
import { describeEffect } from './effects.js';
import type { MigrationFile } from './files.js';
import { readMigrations } from './files.js';
import type { PostCheckReport } from './post-checks.js';
import { runPostChecks } from './post-checks.js';

export interface DeployOptions {
  /** Stop after the dry run (nothing is changed, no backup). */
  readonly dryRun?: boolean;
  /** PostgreSQL lock_timeout for the migrations (default '5s'). */
  readonly lockTimeout?: string;
  /** PostgreSQL statement_timeout for the migrations (default: the server's). */
  readonly statementTimeout?: string;
  /** Extra attempts when the lock timeout hits (default 3). */
  readonly retries?: number;
  /** First backoff between attempts, doubled each time (default 1000 ms). */
  readonly retryDelayMs?: number;
  readonly includeAll?: boolean;
  /** Asked before a non-local database is changed (default: nobody can confirm, so it is refused). */
  readonly confirm?: Confirmer;
  /** Stops the deploy (Ctrl-C): pg_dump is killed, the connection ends, the transaction rolls back. */
  readonly signal?: AbortSignal;
}

export interface DeployReport {
  readonly target: string;
  readonly url: string;
  readonly dryRun: boolean;
  readonly outcome: 'up-to-date' | 'dry-run-ok' | 'applied' | 'failed';
  readonly alreadyApplied: number;
  readonly pending: readonly string[];
  readonly findings: readonly Finding[];
  /** Per pending file: the dry run's result. */
  readonly dryRunFiles: readonly FileOutcome[];
  /** Per pending file: the real apply's result. */
  readonly files: readonly FileOutcome[];
  readonly attempts: number;
  readonly backup: { readonly file: string; readonly bytes: number; readonly ms: number } | null;
  readonly postChecks: PostCheckReport | null;
  readonly restoreCommand?: string;
  readonly error?: string;
  readonly ms: number;
}

/** A failed deploy, carrying the report so far (for --json and for tests). */
export class DeployError extends OperationError {
  constructor(
    message: string,
    readonly report: DeployReport,
    options?: { cause?: unknown; details?: readonly string[] },
  ) {
    super(message, options);
  }
}

const DURATION = /^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$/;

function checkOptions(o: DeployOptions): void {
  for (const [flag, v] of [
    ['--lock-timeout', o.lockTimeout],
    ['--statement-timeout', o.statementTimeout],
  ] as const) {
    if (v !== undefined && !DURATION.test(v))
      throw new UsageError(
        `${flag} must be a duration such as 200ms, 5s or 1min (got ${JSON.stringify(v)}).`,
      );
  }
  if (o.retries !== undefined && (!Number.isInteger(o.retries) || o.retries < 0 || o.retries > 10)) {
    throw new UsageError(`--retries must be a whole number from 0 to 10 (got ${String(o.retries)}).`);
  }
}

function shown(config: Config, file: string): string {
  return shownPath(config.projectDir, file);
}

/** One deploy run: what every step reads, and the report it fills in. */
interface DeployRun {
  readonly config: Config;
  readonly target: DatabaseTarget;
  readonly options: DeployOptions;
  readonly reporter: Reporter;
  readonly apply: ApplyOptions;
  readonly t0: number;
  report: DeployReport;
}

function startRun(
  config: Config,
  target: DatabaseTarget,
  options: DeployOptions,
  reporter: Reporter,
): DeployRun {
  const dryRun = options.dryRun ?? false;
  return {
    config,
    target,
    options,
    reporter,
    apply: {
      lockTimeout: options.lockTimeout ?? '5s',
      statementTimeout: options.statementTimeout,
      includeAll: options.includeAll,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs,
      reporter,
    },
    t0: performance.now(),
    report: {
      target: target.label,
      url: redactUrl(target.url),
      dryRun,
      outcome: 'failed',
      alreadyApplied: 0,
      pending: [],
      findings: [],
      dryRunFiles: [],
      files: [],
      attempts: 0,
      backup: null,
      postChecks: null,
      ms: 0,
    },
  };
}

function update(run: DeployRun, patch: Partial<DeployReport>): DeployReport {
  run.report = { ...run.report, ...patch, ms: performance.now() - run.t0 };
  return run.report;
}

function fail(
  run: DeployRun,
  message: string,
  patch: Partial<DeployReport> = {},
  cause?: unknown,
  details?: readonly string[],
): never {
  throw new DeployError(message, update(run, { ...patch, outcome: 'failed', error: message }), {
    cause,
    details,
  });
}

const needsConfirmation = (run: DeployRun): boolean => !run.report.dryRun && run.target.label !== 'local';
const what = (run: DeployRun): string => `Deploying to the ${run.target.label} database`;

/**
 * Step 1, read-only (nothing is written before it passes): the target's history and schema, the static
 * checks `migrate validate` runs — the same code path — refusing on any error, and (before a real apply) a
 * pg_dump able to back the target up. Returns the pending files.
 */
async function readOnlyChecks(
  run: DeployRun,
  client: Client,
  files: readonly MigrationFile[],
): Promise<readonly MigrationFile[]> {
  run.reporter.step(`🔎 Checking pending migrations on the ${run.target.label} database`);
  const facts = await readTargetFacts(client);
  const checked = await runStaticChecks(run.config.migrationsDir, files, facts, {
    includeAll: run.options.includeAll,
  });
  const pending = checked.pending ?? [];
  // The backup before applying needs a pg_dump as new as the server: check it before anything is written.
  if (!run.report.dryRun && pending.length > 0) await requirePgDump(run.config, client);
  update(run, {
    alreadyApplied: facts.history.length,
    pending: pending.map((f) => f.fileName),
    findings: checked.findings,
  });
  for (const f of checked.findings.filter((x) => x.severity === 'warning'))
    run.reporter.warn(formatFinding(f));
  const errors = checked.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) {
    fail(
      run,
      `Validation found ${errors.length} error(s); nothing was changed.`,
      {},
      undefined,
      errors.map(formatFinding),
    );
  }
  return pending;
}

/** The post-migration checks, run inside the transaction before COMMIT: a failure rolls everything back. */
function postChecksBeforeCommit(
  run: DeployRun,
  files: readonly MigrationFile[],
): ApplyOptions['beforeCommit'] {
  return async (client, runLater) => {
    const postChecks = await runPostChecks(client, files, { runLater });
    update(run, { postChecks });
    if (!postChecks.ok) throw new OperationError('Post-migration checks failed.');
  };
}

/** The failing post-checks, one line each, for the error's details. */
function failedChecks(run: DeployRun): string[] {
  return (run.report.postChecks?.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
}

function reportFiles(run: DeployRun, files: readonly FileOutcome[]): void {
  for (const f of files) {
    const took = f.ms === undefined ? ` (${f.status})` : ` (${f.ms.toFixed(0)} ms)`;
    run.reporter.info(`${f.status === 'ok' || f.status === 'applied' ? '✓' : '·'} ${f.fileName}${took}`);
    for (const e of f.effects ?? []) run.reporter.info(`    ${describeEffect(e)}`);
  }
}

/**
 * Step 2, the dry run: every pending file applied on the target in a transaction that is rolled back, with
 * the post-migration checks before the rollback, reporting per statement the rows changed and the rows of
 * the tables dropped or emptied.
 */
async function dryRunOnTarget(
  run: DeployRun,
  client: Client,
  files: readonly MigrationFile[],
): Promise<void> {
  run.reporter.step(
    `🧪 Dry run: applying ${run.report.pending.length} migration(s) in a transaction that is rolled back`,
  );
  try {
    const dry = await applyMigrations(client, files, {
      ...run.apply,
      mode: 'rollback',
      countRemovedRows: true,
      beforeCommit: postChecksBeforeCommit(run, files),
    });
    update(run, { dryRunFiles: dry.files, attempts: dry.attempts });
    reportFiles(run, dry.files);
  } catch (err) {
    if (!(err instanceof ApplyFailedError)) throw err;
    const patch = { dryRunFiles: err.files, attempts: err.attempts };
    if (err.phase === 'checks') {
      fail(
        run,
        'Dry run: the post-migration checks failed after the migrations; nothing was changed.',
        patch,
        err,
        failedChecks(run),
      );
    }
    fail(run, `Dry run failed: ${err.message} Nothing was changed.`, patch, err);
  }
}

/** Step 3 (not local): the deployer's go-ahead, asked after the dry run. */
async function confirmDeploy(run: DeployRun): Promise<void> {
  if (!needsConfirmation(run)) return;
  await confirmOrStop(run.options.confirm ?? noConfirmation, what(run), {
    message: `Apply ${run.report.pending.length} migration(s) to ${describeTarget(run.target)}? (a backup is taken first)`,
  });
}

/** Step 4: a full backup of the target. */
async function backupTarget(run: DeployRun): Promise<string> {
  run.reporter.step(`📦 Backing up the ${run.target.label} database`);
  const b = await createBackup(run.config, run.target, { signal: run.options.signal }, run.reporter);
  update(run, { backup: { file: b.file, bytes: b.bytes, ms: b.ms } });
  run.reporter.info(`Backup: ${shown(run.config, b.file)}`);
  return b.file;
}

/** The error of a failed real apply: rolled back (with where the backup is), or the way back after a commit. */
function applyFailure(run: DeployRun, err: ApplyFailedError, backupFile: string): never {
  const patch = { files: err.files, attempts: err.attempts };
  const label = run.target.label;
  const asBefore = `the ${label} database is exactly as before. Backup taken before: ${shown(run.config, backupFile)}`;
  if (err.phase === 'checks') {
    fail(
      run,
      `Post-migration checks failed on the ${label} database; everything was rolled back: ${asBefore}`,
      patch,
      err,
      failedChecks(run),
    );
  }
  if (err.phase === 'transaction')
    fail(run, `${err.message} Everything was rolled back: ${asBefore}`, patch, err);
  const restore = restoreCommandLine(run.config, backupFile, run.target);
  fail(
    run,
    `${err.message} To go back to the state before the deploy: ${restore}`,
    { ...patch, restoreCommand: restore },
    err,
  );
}

/**
 * Step 5: everything pending in ONE transaction (lock_timeout, bounded retries), the post-migration checks
 * before COMMIT, then the files that cannot run in a transaction on their own.
 */
async function applyOnTarget(
  run: DeployRun,
  client: Client,
  files: readonly MigrationFile[],
  backupFile: string,
): Promise<void> {
  run.reporter.step(
    `🚀 Applying ${run.report.pending.length} migration(s) in one transaction (lock_timeout ${run.apply.lockTimeout}), post-migration checks before COMMIT`,
  );
  try {
    const applied = await applyMigrations(client, files, {
      ...run.apply,
      mode: 'commit',
      beforeCommit: postChecksBeforeCommit(run, files),
    });
    update(run, { files: applied.files, attempts: applied.attempts });
    reportFiles(run, applied.files);
  } catch (err) {
    if (!(err instanceof ApplyFailedError)) throw err;
    applyFailure(run, err, backupFile);
  }
}

/** Nothing pending: the post-migration checks still run (read-only), so a broken target is reported. */
async function checkUpToDate(run: DeployRun, client: Client, files: readonly MigrationFile[]): Promise<void> {
  run.reporter.info('Nothing pending: no backup needed, nothing to apply.');
  const postChecks = await runPostChecks(client, files);
  update(run, { postChecks });
  if (!postChecks.ok) {
    fail(
      run,
      `Post-migration checks failed on the ${run.target.label} database (nothing was applied).`,
      {},
      undefined,
      failedChecks(run),
    );
  }
}

function reportChecks(run: DeployRun): void {
  for (const c of run.report.postChecks?.checks ?? [])
    run.reporter.info(`${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
}

/**
 * Deploys the pending migrations of `config.migrationsDir` to `target`: read-only checks → dry run (with the
 * post-migration checks) → confirmation (not local) → backup → apply with the checks before COMMIT.
 * @throws UsageError (exit 2) for bad options or a missing confirmation without a terminal, before connecting;
 * OperationError when another deploy holds the lock; DeployError (exit 1) for every failure after that, with
 * the report.
 */
export async function deployMigrations(
  config: Config,
  target: DatabaseTarget,
  options: DeployOptions = {},
  reporter: Reporter = silentReporter,
): Promise<DeployReport> {
  checkOptions(options);
  const run = startRun(config, target, options, reporter);
  if (needsConfirmation(run)) assertCanConfirm(options.confirm ?? noConfirmation, what(run));
  // Read-only checks of the target before anything changes (src/preflight/preflight.ts).
  const { signal } = options;
  const planOptions = { dryRun: options.dryRun ?? false, includeAll: options.includeAll ?? false, signal };
  await interruptible(
    signal,
    'Deploy interrupted during its read-only checks; nothing was changed.',
    async () => runPreflight(config, await deployPreflightPlan(config, target, planOptions)),
  );
  const { files } = await readMigrations(config.migrationsDir);
  const deploy = async (client: Client): Promise<DeployReport> => {
    const pending = await readOnlyChecks(run, client, files);
    if (pending.length === 0) {
      if (!run.report.dryRun) await checkUpToDate(run, client, files);
      return update(run, { outcome: 'up-to-date' });
    }
    await dryRunOnTarget(run, client, files);
    reportChecks(run);
    if (run.report.dryRun) return update(run, { outcome: 'dry-run-ok' });
    await confirmDeploy(run);
    const backupFile = await backupTarget(run);
    await applyOnTarget(run, client, files, backupFile);
    reportChecks(run);
    return update(run, { outcome: 'applied' });
  };
  const interrupted = `Deploy interrupted; the ${target.label} database was rolled back and is unchanged.`;
  return interruptible(signal, interrupted, () =>
    withLockedClient(
      target.url,
      {
        label: target.label,
        lock: 'migrate',
        busyMessage: `Another crm-env migration or deploy is running on the ${target.label} database; wait for it to finish and try again. Nothing was changed.`,
      },
      async (client) => {
        const stop = endOnAbort(signal, [client]);
        try {
          return await deploy(client);
        } finally {
          stop();
        }
      },
    ),
  );
}
