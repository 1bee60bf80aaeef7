/**
 * `crm-env migrate deploy [local|cloud]` — the spec's deploy-safe.sh, made safe where the script was not:
 * advisory lock → pending list → static validation → a real dry run (every pending file applied inside a
 * transaction that is rolled back) → confirmation (cloud) → backup → apply everything in ONE transaction
 * with lock_timeout and bounded retries → files that cannot run in a transaction, on their own →
 * post-migration checks. A failure before the commit leaves the target exactly as it was; the message says
 * which file and line, and where the backup is.
 */
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { describeTarget } from '../config.js';
import type { Client } from '../db/connect.js';
import { withLockedClient } from '../db/connect.js';
import { requirePgDump } from '../db/pg-dump.js';
import type { Confirmer } from '../confirm.js';
import { assertCanConfirm, confirmOrStop, noConfirmation } from '../confirm.js';
import { shownPath } from '../format.js';
import { CrmEnvError, OperationError, UsageError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { FileOutcome } from './apply.js';
import { ApplyFailedError, applyMigrationSet } from './apply.js';
import { createBackup } from './backup.js';
import type { Finding } from './checks.js';
import {
  checkChangedAfterApply,
  checkDuplicateVersions,
  checkFileNames,
  formatFinding,
  lintFiles,
  parseFiles,
  targetPublicTables,
} from './checks.js';
import type { MigrationFile } from './files.js';
import { readMigrations } from './files.js';
import { readHistory } from './history.js';
import type { PostCheckReport } from './post-checks.js';
import { runPostChecks } from './post-checks.js';
import { planMigrations } from './runner.js';

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

/**
 * Deploys the pending migrations of `config.migrationsDir` to `target`.
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
  const t0 = performance.now();
  const dryRun = options.dryRun ?? false;
  const needsConfirm = !dryRun && target.label !== 'local';
  const confirmer = options.confirm ?? noConfirmation;
  const what = `Deploying to the ${target.label} database`;
  if (needsConfirm) assertCanConfirm(confirmer, what);
  const { files } = await readMigrations(config.migrationsDir);
  const nameFindings = [...(await checkFileNames(config.migrationsDir)), ...checkDuplicateVersions(files)];
  const lockTimeout = options.lockTimeout ?? '5s';
  const applyOptions = {
    lockTimeout,
    statementTimeout: options.statementTimeout,
    includeAll: options.includeAll,
    retries: options.retries ?? 3,
    retryDelayMs: options.retryDelayMs,
    reporter,
  };

  let report: DeployReport = {
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
  };
  const update = (patch: Partial<DeployReport>): DeployReport =>
    (report = { ...report, ...patch, ms: performance.now() - t0 });
  const fail = (
    message: string,
    patch: Partial<DeployReport> = {},
    cause?: unknown,
    details?: readonly string[],
  ): never => {
    throw new DeployError(message, update({ ...patch, outcome: 'failed', error: message }), {
      cause,
      details,
    });
  };

  const run = async (client: Client): Promise<DeployReport> => {
    reporter.step(`🔎 Checking pending migrations on the ${target.label} database`);
    const history = await readHistory(client);
    let pending: readonly MigrationFile[] = [];
    try {
      pending = planMigrations(history, files, options.includeAll ?? false).pending;
    } catch (err) {
      if (!(err instanceof CrmEnvError)) throw err;
      fail(`${err.message} Nothing was changed.`, {}, err);
    }
    update({ alreadyApplied: history.length, pending: pending.map((f) => f.fileName) });
    // The backup before applying needs a pg_dump as new as the server: check it before anything else.
    if (!dryRun && pending.length > 0) await requirePgDump(config, client);

    // Static validation: all files must still parse and be unchanged; only pending ones are linted (the
    // applied ones already ran), seeded with the target's real tables.
    const { parsed, findings: parseFindings } = await parseFiles(files);
    const isPending = new Set(pending.map((f) => f.fileName));
    const findings = [
      ...nameFindings,
      ...parseFindings.filter((f) => f.rule === 'parse-error' || isPending.has(f.file)),
      ...(await checkChangedAfterApply(history, files)),
      ...(await lintFiles(pending, new Set(parsed.keys()), await targetPublicTables(client))),
    ];
    update({ findings });
    for (const f of findings.filter((x) => x.severity === 'warning')) reporter.warn(formatFinding(f));
    const errors = findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      fail(
        `Validation found ${errors.length} error(s); nothing was changed.`,
        {},
        undefined,
        errors.map(formatFinding),
      );
    }

    if (pending.length > 0) {
      reporter.step(
        `🧪 Dry run: applying ${pending.length} migration(s) in a transaction that is rolled back`,
      );
      try {
        const dry = await applyMigrationSet(client, files, { ...applyOptions, mode: 'rollback' });
        update({ dryRunFiles: dry.files, attempts: dry.attempts });
        for (const f of dry.files)
          reporter.info(
            `${f.status === 'ok' ? '✓' : '·'} ${f.fileName}${f.ms === undefined ? ` (${f.status})` : ` (${f.ms.toFixed(0)} ms)`}`,
          );
      } catch (err) {
        if (!(err instanceof ApplyFailedError)) throw err;
        fail(
          `Dry run failed: ${err.message} Nothing was changed.`,
          { dryRunFiles: err.files, attempts: err.attempts },
          err,
        );
      }
    }
    if (dryRun) return update({ outcome: pending.length === 0 ? 'up-to-date' : 'dry-run-ok' });

    let backup: DeployReport['backup'] = null;
    if (pending.length === 0) {
      reporter.info('Nothing pending: no backup needed, nothing to apply.');
    } else {
      if (needsConfirm) {
        await confirmOrStop(confirmer, what, {
          message: `Apply ${pending.length} migration(s) to ${describeTarget(target)}? (a backup is taken first)`,
        });
      }
      reporter.step(`📦 Backing up the ${target.label} database`);
      const b = await createBackup(config, target, {}, reporter);
      backup = { file: b.file, bytes: b.bytes, ms: b.ms };
      update({ backup });
      reporter.info(`Backup: ${shown(config, b.file)}`);

      reporter.step(
        `🚀 Applying ${pending.length} migration(s) in one transaction (lock_timeout ${lockTimeout})`,
      );
      try {
        const applied = await applyMigrationSet(client, files, { ...applyOptions, mode: 'commit' });
        update({ files: applied.files, attempts: applied.attempts });
      } catch (err) {
        if (!(err instanceof ApplyFailedError)) throw err;
        const restore = restoreCommand(config, b.file, target);
        const tail =
          err.phase === 'transaction'
            ? `Everything was rolled back: the ${target.label} database is exactly as before. Backup taken before: ${shown(config, b.file)}`
            : `To go back to the state before the deploy: ${restore}`;
        fail(
          `${err.message} ${tail}`,
          { files: err.files, attempts: err.attempts, restoreCommand: restore },
          err,
        );
      }
    }

    reporter.step('🩺 Post-migration checks');
    const postChecks = await runPostChecks(client, files);
    update({ postChecks });
    for (const c of postChecks.checks) reporter.info(`${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
    if (!postChecks.ok) {
      const bad = postChecks.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      const restore = backup ? restoreCommand(config, backup.file, target) : undefined;
      fail(
        `Post-migration checks failed on the ${target.label} database${backup ? ' after the migrations were applied' : ''}.${restore ? ` To go back: ${restore}` : ''}`,
        restore ? { restoreCommand: restore } : {},
        undefined,
        bad,
      );
    }
    return update({ outcome: pending.length === 0 ? 'up-to-date' : 'applied' });
  };

  return withLockedClient(
    target.url,
    {
      label: target.label,
      lock: 'migrate',
      busyMessage: `Another crm-env migration or deploy is running on the ${target.label} database; wait for it to finish and try again. Nothing was changed.`,
    },
    run,
  );
}

/** The command that puts the backup back, for messages. A custom URL is not repeated (it holds a password). */
export function restoreCommand(config: Config, backupFile: string, target: DatabaseTarget): string {
  const t = target.label === 'custom' ? "'<the same database URL>'" : target.label;
  return redactText(`npx crm-env restore ${shown(config, backupFile)} --target ${t}`);
}
