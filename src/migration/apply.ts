/**
 * Applies a set of migrations the way deploy and the rehearsal need it, with the runner's rules and
 * history (planMigrations, the Supabase CLI's history table) and its all-or-nothing transaction:
 * - every pending file in ONE transaction, run statement by statement so that each error names its line;
 * - files that PostgreSQL refuses to run inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM, …) are
 *   taken out of the transaction and applied on their own afterwards, statement by statement in autocommit,
 *   then recorded — the only way they can run at all;
 * - a lock timeout (SQLSTATE 55P03) retries the whole transaction a bounded number of times with backoff:
 *   the transaction has rolled back, so a retry starts from a clean target;
 * - every file gets an outcome (time, or the error with its line) for the per-file report.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '../db/connect.js';
import { pgFields } from '../db/connect.js';
import { OperationError } from '../errors.js';
import { redactText } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import { outsideTransactionStatements, parseMigrationCached, type OutsideStatement } from './checks.js';
import type { MigrationFile } from './files.js';
import { ensureHistoryTable, readHistory } from './history.js';
import { applyFile, applyInOpenTransaction, MigrationFailedError, planMigrations } from './runner.js';

/** What happened to one pending file. */
export interface FileOutcome {
  readonly fileName: string;
  readonly version: string;
  /**
   * applied: committed. ok: ran in a dry run (rolled back afterwards). rolled-back: ran, but a later file
   * failed, so it was undone. failed: this file's error. not-run: after the failure. skipped: cannot run
   * inside a transaction, so a dry run cannot test it.
   */
  readonly status: 'applied' | 'ok' | 'rolled-back' | 'failed' | 'not-run' | 'skipped';
  readonly ms?: number;
  /** Applied on its own, outside the transaction (and why). */
  readonly outsideTransaction?: readonly OutsideStatement[];
  readonly line?: number;
  readonly error?: string;
}

export interface ApplySetOptions {
  /** 'rollback' = dry run: the transaction is always rolled back and outside-transaction files are skipped. */
  readonly mode: 'commit' | 'rollback';
  readonly lockTimeout?: string;
  readonly statementTimeout?: string;
  readonly includeAll?: boolean;
  /** Extra attempts after a lock timeout (default 0). */
  readonly retries?: number;
  /** First backoff; doubles on every retry (default 1000 ms: 1 s, 2 s, 4 s…). */
  readonly retryDelayMs?: number;
  readonly reporter?: Reporter;
}

export interface ApplySetResult {
  readonly files: readonly FileOutcome[];
  /** Attempts of the transaction (1 = no retry was needed). */
  readonly attempts: number;
  readonly alreadyApplied: number;
}

/** A failed apply; `files` says what happened to each pending file, `file`/`line` where it broke. */
export class ApplyFailedError extends OperationError {
  constructor(
    message: string,
    readonly files: readonly FileOutcome[],
    readonly file: string,
    readonly line: number,
    readonly attempts: number,
    readonly lockTimeout: boolean,
    /** 'outside': the transaction was committed; a file applied on its own failed afterwards. */
    readonly phase: 'transaction' | 'outside',
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** True when the error (or its cause) is PostgreSQL's lock_not_available, raised by lock_timeout. */
export function isLockTimeout(err: unknown): boolean {
  return (
    pgFields(err).code === '55P03' || pgFields((err as { cause?: unknown } | null)?.cause).code === '55P03'
  );
}

/** Splits the pending files into those run in the transaction and those that must run on their own. */
async function splitPending(pending: readonly MigrationFile[]): Promise<Map<string, OutsideStatement[]>> {
  const outside = new Map<string, OutsideStatement[]>();
  for (const f of pending) {
    const found = outsideTransactionStatements(await parseMigrationCached(f));
    if (found.length > 0) outside.set(f.fileName, found);
  }
  return outside;
}

/**
 * Applies the pending files of `files` on `client` (the caller holds the advisory lock). Throws
 * {@link ApplyFailedError} naming file and line; in 'transaction' phase the target is unchanged.
 */
export async function applyMigrationSet(
  client: Client,
  files: readonly MigrationFile[],
  options: ApplySetOptions,
): Promise<ApplySetResult> {
  const reporter = options.reporter ?? silentReporter;
  const retries = options.retries ?? 0;
  const plan = planMigrations(await readHistory(client), files, options.includeAll ?? false);
  const outside = await splitPending(plan.pending);
  const txPending = plan.pending.filter((f) => !outside.has(f.fileName));
  const outcome = (
    f: MigrationFile,
    rest: Partial<FileOutcome> & Pick<FileOutcome, 'status'>,
  ): FileOutcome => ({
    fileName: f.fileName,
    version: f.version,
    ...(outside.has(f.fileName) ? { outsideTransaction: outside.get(f.fileName) } : {}),
    ...rest,
  });

  let attempts = 0;
  let ms = new Map<string, number>();
  for (;;) {
    attempts += 1;
    ms = new Map();
    try {
      if (txPending.length > 0) await applyInTransaction(client, txPending, options, ms);
      break;
    } catch (err) {
      const lock = isLockTimeout(err);
      if (lock && attempts <= retries) {
        const wait = (options.retryDelayMs ?? 1000) * 2 ** (attempts - 1);
        reporter.warn(
          `Lock timeout (${options.lockTimeout ?? 'lock_timeout'}): another session holds a lock the migrations need; retry ${attempts} of ${retries} in ${wait / 1000} s.`,
        );
        await sleep(wait);
        continue;
      }
      // Not a file's error (e.g. the history table's own lock): blame the file that was running, if any.
      const failedAt = err instanceof MigrationFailedError ? err.file : (txPending[ms.size]?.fileName ?? '');
      const line = err instanceof MigrationFailedError ? err.line : 1;
      const failedIndex = txPending.findIndex((f) => f.fileName === failedAt);
      const message = redactText((err as Error).message).replace(/\.$/, '');
      const outcomes = plan.pending.map((f) => {
        const i = txPending.indexOf(f);
        if (i < 0 || failedIndex < 0 || i > failedIndex) return outcome(f, { status: 'not-run' });
        if (i === failedIndex) return outcome(f, { status: 'failed', line, error: message });
        return outcome(f, {
          status: options.mode === 'commit' ? 'rolled-back' : 'ok',
          ms: ms.get(f.fileName),
        });
      });
      const gaveUp = lock
        ? ` Gave up after ${attempts} attempt(s): a lock was not granted within lock_timeout ${options.lockTimeout ?? '(unset)'} — another session holds a conflicting lock on a table this migration changes.`
        : '';
      throw new ApplyFailedError(
        `${message}.${gaveUp}`,
        outcomes,
        failedAt,
        line,
        attempts,
        lock,
        'transaction',
        err,
      );
    }
  }

  const outcomes: FileOutcome[] = [];
  for (const f of txPending)
    outcomes.push(
      outcome(f, { status: options.mode === 'commit' ? 'applied' : 'ok', ms: ms.get(f.fileName) }),
    );
  const outsideFiles = plan.pending.filter((f) => outside.has(f.fileName));
  // The transaction creates the history table only when it had files of its own.
  if (options.mode === 'commit' && outsideFiles.length > 0) await ensureHistoryTable(client);
  for (const [index, f] of outsideFiles.entries()) {
    const what = outside
      .get(f.fileName)!
      .map((s) => s.what)
      .join(', ');
    if (options.mode === 'rollback') {
      reporter.warn(
        `${f.fileName} cannot run inside a transaction (${what}): not tested by the dry run; deploy applies it on its own, after the others.`,
      );
      outcomes.push(outcome(f, { status: 'skipped' }));
      continue;
    }
    reporter.warn(
      `${f.fileName} cannot run inside a transaction (${what}): applied on its own, after the others.`,
    );
    try {
      const took = await applyOutside(client, f, options);
      outcomes.push(outcome(f, { status: 'applied', ms: took }));
    } catch (err) {
      if (!(err instanceof MigrationFailedError)) throw err;
      const e = err;
      outcomes.push(outcome(f, { status: 'failed', line: e.line, error: e.serverMessage }));
      for (const rest of outsideFiles.slice(index + 1)) outcomes.push(outcome(rest, { status: 'not-run' }));
      throw new ApplyFailedError(
        `${e.message}. It ran outside a transaction: the statements before line ${e.line} stay applied, and the migrations before it were committed.`,
        outcomes,
        f.fileName,
        e.line,
        attempts,
        isLockTimeout(err),
        'outside',
        err,
      );
    }
  }
  return { files: outcomes, attempts, alreadyApplied: plan.applied.length };
}

/** The runner's transaction, with per-file timings collected into `ms` as files finish. */
async function applyInTransaction(
  client: Client,
  pending: readonly MigrationFile[],
  options: ApplySetOptions,
  ms: Map<string, number>,
): Promise<void> {
  await client.query('begin');
  try {
    await applyInOpenTransaction(client, pending, {
      lockTimeout: options.lockTimeout,
      statementTimeout: options.statementTimeout,
      onApplied: (m) => ms.set(m.fileName, m.ms),
    });
    await client.query(options.mode === 'commit' ? 'commit' : 'rollback');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** One file, statement by statement in autocommit, then its history row. Returns the time taken. */
async function applyOutside(client: Client, file: MigrationFile, options: ApplySetOptions): Promise<number> {
  if (options.lockTimeout)
    await client.query(`select set_config('lock_timeout', $1, false)`, [options.lockTimeout]);
  if (options.statementTimeout)
    await client.query(`select set_config('statement_timeout', $1, false)`, [options.statementTimeout]);
  try {
    return await applyFile(client, file);
  } finally {
    await client.query('reset lock_timeout; reset statement_timeout').catch(() => undefined);
  }
}
