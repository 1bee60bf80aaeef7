/**
 * THE migration applier: `migrate up`, `stack up` (and so the demo), the test templates, deploy (dry run and
 * real), the rehearsal and the reset's rebuild all apply migrations through this module, with the Supabase
 * CLI's pending rules and history rows (planMigrations, history.ts):
 * - every pending file in ONE transaction, run statement by statement so that each error names its line;
 * - an optional `beforeCommit` check inside that transaction (deploy's post-migration checks): when it
 *   fails, everything is rolled back exactly like a failing statement;
 * - files that PostgreSQL refuses to run inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM, …; see
 *   outside-transaction.ts) are taken out of the transaction and applied on their own afterwards, statement
 *   by statement in autocommit, then recorded — the only way they can run at all;
 * - a lock timeout (SQLSTATE 55P03) retries the whole transaction a bounded number of times with backoff:
 *   the transaction has rolled back, so a retry starts from a clean target;
 * - every file gets an outcome (time, data effects, or the error with its line) for the per-file report.
 * The reset's rebuild runs inside its caller's transaction instead: {@link applyInOpenTransaction}.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Node } from 'libpg-query';
import type { Client } from '../db/connect.js';
import { pgFields } from '../db/connect.js';
import { OperationError } from '../errors.js';
import { redactText } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import { parseMigrationCached } from './checks.js';
import type { StatementEffect } from './effects.js';
import { countRowsAboutToGo, removesTables, statementEffect } from './effects.js';
import type { MigrationFile } from './files.js';
import { lineAt } from './files.js';
import { ensureHistoryTable, insertHistory, planMigrations, readHistory } from './history.js';
import type { ParsedStatement } from './lint.js';
import type { OutsideStatement } from './outside-transaction.js';
import { inTransactionForm, outsideTransactionStatements } from './outside-transaction.js';

/** What happened to one pending file. */
export interface FileOutcome {
  readonly fileName: string;
  readonly version: string;
  /**
   * applied: committed. ok: ran in a dry run (rolled back afterwards). rolled-back: ran, but a later file
   * or the checks before COMMIT failed, so it was undone. failed: this file's error. not-run: after the
   * failure. skipped: cannot run inside a transaction, so a dry run cannot test it.
   */
  readonly status: 'applied' | 'ok' | 'rolled-back' | 'failed' | 'not-run' | 'skipped';
  readonly ms?: number;
  /** Rows changed by its statements, and tables they dropped or emptied (see effects.ts). */
  readonly effects?: readonly StatementEffect[];
  /** Applied on its own, outside the transaction (and why). */
  readonly outsideTransaction?: readonly OutsideStatement[];
  readonly line?: number;
  readonly error?: string;
}

export interface ApplyOptions {
  /** 'rollback' = dry run: the transaction is always rolled back and outside-transaction files are skipped. */
  readonly mode?: 'commit' | 'rollback';
  readonly lockTimeout?: string;
  readonly statementTimeout?: string;
  readonly includeAll?: boolean;
  /** Extra attempts after a lock timeout (default 0). */
  readonly retries?: number;
  /** First backoff; doubles on every retry (default 1000 ms: 1 s, 2 s, 4 s…). */
  readonly retryDelayMs?: number;
  readonly reporter?: Reporter;
  /** Count the rows of the tables a statement drops or truncates, just before it runs (the dry run's report). */
  readonly countRemovedRows?: boolean;
  /**
   * Runs inside the transaction after the last file, before COMMIT (or the dry run's ROLLBACK); throwing
   * rolls everything back. `outsideLater`: pending files that will only run afterwards, on their own.
   */
  readonly beforeCommit?: (client: Client, outsideLater: readonly MigrationFile[]) => Promise<void>;
  /** Progress: called before each file. */
  readonly onFile?: (file: MigrationFile, index: number, total: number) => void;
}

export interface ApplyResult {
  readonly files: readonly FileOutcome[];
  /** Attempts of the transaction (1 = no retry was needed). */
  readonly attempts: number;
  readonly alreadyApplied: number;
}

/** A failure inside a migration file, with where it happened. */
export class MigrationFailedError extends OperationError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly serverMessage: string,
    cause: unknown,
  ) {
    super(`Migration ${file} failed at line ${line}: ${serverMessage}`, { cause });
  }
}

/**
 * A failed apply; `files` says what happened to each pending file, `file`/`line` where it broke. phase
 * 'transaction' (a statement) and 'checks' (the beforeCommit check): rolled back, the target is unchanged;
 * 'outside': the transaction was committed, then a file applied on its own failed.
 */
export class ApplyFailedError extends OperationError {
  constructor(
    message: string,
    readonly files: readonly FileOutcome[],
    readonly file: string,
    readonly line: number,
    readonly attempts: number,
    readonly lockTimeout: boolean,
    readonly phase: 'transaction' | 'checks' | 'outside',
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

/** One file's run: time and data effects. */
interface FileRun {
  readonly ms: number;
  readonly effects: readonly StatementEffect[];
}

/**
 * Runs one statement of a file; maps a server error to the file and line (the statement's line plus the
 * error position within it). Statement by statement, because an error without a position ("relation does
 * not exist" in an ALTER TABLE) would otherwise only name the file's first line.
 */
async function runStatement(
  client: Client,
  file: MigrationFile,
  s: ParsedStatement,
  countRemovedRows: boolean,
): Promise<StatementEffect | undefined> {
  try {
    const node = s.ast as Node;
    const removed =
      countRemovedRows && removesTables(node) ? await countRowsAboutToGo(client, node) : undefined;
    return statementEffect(s.line, node, await client.query(s.sql), removed);
  } catch (err) {
    const pos = Number(pgFields(err).position);
    const line = s.line + (Number.isFinite(pos) && pos > 0 ? lineAt(s.sql, pos - 1) - 1 : 0);
    throw new MigrationFailedError(file.fileName, line, redactText((err as Error).message), err);
  }
}

/**
 * Runs one file statement by statement (`run`: the statements to execute, by default the file's own), then
 * writes its history row with the file's statements, as the Supabase CLI does. Transaction control is the
 * caller's.
 */
async function applyFile(
  client: Client,
  file: MigrationFile,
  options: { countRemovedRows?: boolean; run?: readonly ParsedStatement[] } = {},
): Promise<FileRun> {
  const start = performance.now();
  const statements = await parseMigrationCached(file);
  const effects: StatementEffect[] = [];
  for (const s of options.run ?? statements) {
    const effect = await runStatement(client, file, s, options.countRemovedRows ?? false);
    if (effect) effects.push(effect);
  }
  await insertHistory(
    client,
    file.version,
    file.name,
    statements.map((s) => s.sql),
  );
  return { ms: performance.now() - start, effects };
}

/** Sets lock_timeout / statement_timeout for the transaction (`local`) or the session. */
async function setTimeouts(client: Client, options: ApplyOptions, local: boolean): Promise<void> {
  if (options.lockTimeout)
    await client.query(`select set_config('lock_timeout', $1, $2)`, [options.lockTimeout, local]);
  if (options.statementTimeout)
    await client.query(`select set_config('statement_timeout', $1, $2)`, [options.statementTimeout, local]);
}

/** The pending files that must run on their own (file name → its outside-transaction statements). */
async function splitPending(
  client: Client,
  pending: readonly MigrationFile[],
): Promise<Map<string, OutsideStatement[]>> {
  const outside = new Map<string, OutsideStatement[]>();
  if (pending.length === 0) return outside;
  const { rows } = await client.query<{ v: string }>(`select current_setting('server_version_num') as v`);
  for (const f of pending) {
    const found = outsideTransactionStatements(await parseMigrationCached(f), Number(rows[0]!.v));
    if (found.length > 0) outside.set(f.fileName, found);
  }
  return outside;
}

/** Marks an error of the beforeCommit check, so that the report can tell it from a statement's. */
class CheckFailed extends Error {
  constructor(readonly original: unknown) {
    super((original as Error).message);
  }
}

/** BEGIN, the files, the check, COMMIT (or ROLLBACK in a dry run); ROLLBACK and rethrow on any error. */
async function runTransaction(
  client: Client,
  files: readonly MigrationFile[],
  outsideLater: readonly MigrationFile[],
  options: ApplyOptions,
  ran: Map<string, FileRun>,
): Promise<void> {
  await client.query('begin');
  try {
    if (files.length > 0) {
      // History table first: it sets its own short lock_timeout, which ours then replaces.
      await ensureHistoryTable(client);
      await setTimeouts(client, options, true);
      for (const [i, f] of files.entries()) {
        options.onFile?.(f, i, files.length);
        ran.set(f.fileName, await applyFile(client, f, options));
      }
    }
    await options.beforeCommit?.(client, outsideLater).catch((err: unknown) => {
      throw new CheckFailed(err);
    });
    await client.query(options.mode === 'rollback' ? 'rollback' : 'commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** Outcome builder for one apply: adds the file's identity and outside-transaction statements. */
function outcomeOf(outside: ReadonlyMap<string, OutsideStatement[]>) {
  return (f: MigrationFile, rest: Partial<FileOutcome> & Pick<FileOutcome, 'status'>): FileOutcome => ({
    fileName: f.fileName,
    version: f.version,
    ...(outside.has(f.fileName) ? { outsideTransaction: outside.get(f.fileName) } : {}),
    ...rest,
  });
}

/** The error for a failed transaction: which file broke where, and what became of every pending file. */
function transactionFailure(
  err: unknown,
  pending: readonly MigrationFile[],
  inTx: readonly MigrationFile[],
  ran: ReadonlyMap<string, FileRun>,
  outcome: ReturnType<typeof outcomeOf>,
  options: ApplyOptions,
  attempts: number,
): ApplyFailedError {
  const check = err instanceof CheckFailed;
  const cause = check ? err.original : err;
  const lock = isLockTimeout(cause);
  // Not a file's error (e.g. the history table's own lock): blame the file that was running, if any.
  const failedAt = check
    ? ''
    : cause instanceof MigrationFailedError
      ? cause.file
      : (inTx[ran.size]?.fileName ?? '');
  const line = cause instanceof MigrationFailedError ? cause.line : check ? 0 : 1;
  const undone = options.mode === 'rollback' ? 'ok' : 'rolled-back';
  const files = pending.map((f) => {
    const done = ran.get(f.fileName);
    if (f.fileName === failedAt)
      return outcome(f, { status: 'failed', line, error: redactText((cause as Error).message) });
    return done
      ? outcome(f, { status: undone, ms: done.ms, effects: done.effects })
      : outcome(f, { status: 'not-run' });
  });
  const message = redactText((cause as Error).message).replace(/\.$/, '');
  const gaveUp = lock
    ? ` Gave up after ${attempts} attempt(s): a lock was not granted within lock_timeout ${options.lockTimeout ?? '(unset)'} — another session holds a conflicting lock on a table this migration changes.`
    : '';
  const phase = check ? 'checks' : 'transaction';
  return new ApplyFailedError(`${message}.${gaveUp}`, files, failedAt, line, attempts, lock, phase, cause);
}

/** The transaction, retried after a lock timeout; returns the attempts it took. */
async function runTransactionWithRetries(
  client: Client,
  pending: readonly MigrationFile[],
  outside: ReadonlyMap<string, OutsideStatement[]>,
  options: ApplyOptions,
  ran: Map<string, FileRun>,
): Promise<number> {
  const inTx = pending.filter((f) => !outside.has(f.fileName));
  const later = pending.filter((f) => outside.has(f.fileName));
  const retries = options.retries ?? 0;
  if (inTx.length === 0 && !options.beforeCommit) return 1;
  for (let attempts = 1; ; attempts += 1) {
    ran.clear();
    try {
      await runTransaction(client, inTx, later, options, ran);
      return attempts;
    } catch (err) {
      if (isLockTimeout(err) && attempts <= retries) {
        const wait = (options.retryDelayMs ?? 1000) * 2 ** (attempts - 1);
        (options.reporter ?? silentReporter).warn(
          `Lock timeout (${options.lockTimeout ?? 'lock_timeout'}): another session holds a lock the migrations need; retry ${attempts} of ${retries} in ${wait / 1000} s.`,
        );
        await sleep(wait);
        continue;
      }
      throw transactionFailure(err, pending, inTx, ran, outcomeOf(outside), options, attempts);
    }
  }
}

/** One file on its own, statement by statement in autocommit, then its history row. */
async function applyOutsideFile(
  client: Client,
  file: MigrationFile,
  options: ApplyOptions,
): Promise<FileRun> {
  await setTimeouts(client, options, false);
  try {
    return await applyFile(client, file, options);
  } finally {
    await client.query('reset lock_timeout; reset statement_timeout').catch(() => undefined);
  }
}

/**
 * Applies `files` one by one on their own (after a committed transaction, or after the reset's rebuild).
 * Every error — a statement's, or a lost connection — becomes an {@link ApplyFailedError} in phase 'outside':
 * what ran before it stays applied (`done`: the committed files' outcomes, for that error's report).
 */
export async function applyOutsideFiles(
  client: Client,
  files: readonly MigrationFile[],
  options: ApplyOptions,
  outside: ReadonlyMap<string, OutsideStatement[]> = new Map(),
  attempts = 1,
  done: readonly FileOutcome[] = [],
): Promise<FileOutcome[]> {
  const outcome = outcomeOf(outside);
  const outcomes: FileOutcome[] = [];
  if (files.length > 0) await ensureHistoryTable(client);
  for (const [index, f] of files.entries()) {
    const what = (outside.get(f.fileName) ?? []).map((s) => s.what).join(', ');
    options.reporter?.info(`${f.fileName} cannot run inside a transaction (${what}): applied on its own.`);
    try {
      const run = await applyOutsideFile(client, f, options);
      outcomes.push(outcome(f, { status: 'applied', ms: run.ms, effects: run.effects }));
    } catch (err) {
      const line = err instanceof MigrationFailedError ? err.line : 1;
      const reason =
        err instanceof MigrationFailedError ? err.serverMessage : redactText((err as Error).message);
      outcomes.push(outcome(f, { status: 'failed', line, error: reason }));
      for (const rest of files.slice(index + 1)) outcomes.push(outcome(rest, { status: 'not-run' }));
      const message = `${err instanceof MigrationFailedError ? err.message : `Migration ${f.fileName} failed: ${reason}`}`;
      throw new ApplyFailedError(
        `${message.replace(/\.$/, '')}. It ran outside a transaction: the migrations before it were committed${line > 1 ? `, and its statements before line ${line} stay applied` : ''}.`,
        [...done, ...outcomes],
        f.fileName,
        line,
        attempts,
        isLockTimeout(err),
        'outside',
        err,
      );
    }
  }
  return outcomes;
}

/**
 * Applies the pending files of `files` on `client` (the caller holds the advisory lock and no transaction).
 * Throws {@link ApplyFailedError} naming file and line; in phases 'transaction' and 'checks' the target is
 * unchanged.
 */
export async function applyMigrations(
  client: Client,
  files: readonly MigrationFile[],
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const plan = planMigrations(await readHistory(client), files, options.includeAll ?? false);
  const outside = await splitPending(client, plan.pending);
  const ran = new Map<string, FileRun>();
  const attempts = await runTransactionWithRetries(client, plan.pending, outside, options, ran);
  const outcome = outcomeOf(outside);
  const outcomes = plan.pending
    .filter((f) => !outside.has(f.fileName))
    .map((f) => {
      const run = ran.get(f.fileName)!;
      return outcome(f, {
        status: options.mode === 'rollback' ? 'ok' : 'applied',
        ms: run.ms,
        effects: run.effects,
      });
    });
  const later = plan.pending.filter((f) => outside.has(f.fileName));
  if (options.mode === 'rollback') {
    for (const f of later) {
      const what = outside
        .get(f.fileName)!
        .map((s) => s.what)
        .join(', ');
      options.reporter?.warn(
        `${f.fileName} cannot run inside a transaction (${what}): not tested by the dry run; it is applied on its own, after the others.`,
      );
      outcomes.push(outcome(f, { status: 'skipped' }));
    }
  } else {
    outcomes.push(...(await applyOutsideFiles(client, later, options, outside, attempts, outcomes)));
  }
  return { files: outcomes, attempts, alreadyApplied: plan.applied.length };
}

/**
 * For the reset's rebuild: applies every file in order inside the caller's open transaction, on a schema the
 * caller has just emptied. Statements that cannot run in a transaction run in their in-transaction form
 * (CONCURRENTLY dropped, maintenance skipped: see inTransactionForm); a file holding one that has no such
 * form is not run and is returned in `afterCommit`, for {@link applyOutsideFiles} once the caller committed.
 * History rows keep the files' own statements.
 */
export async function applyInOpenTransaction(
  client: Client,
  files: readonly MigrationFile[],
): Promise<{ files: FileOutcome[]; afterCommit: MigrationFile[] }> {
  await ensureHistoryTable(client);
  const outcomes: FileOutcome[] = [];
  const afterCommit: MigrationFile[] = [];
  for (const f of files) {
    const forms = (await parseMigrationCached(f)).map((s) => [s, inTransactionForm(s)] as const);
    if (forms.some(([, form]) => form === undefined)) {
      afterCommit.push(f);
      continue;
    }
    const run = forms.flatMap(([s, form]) =>
      form === 'skip' || form === undefined ? [] : [{ ...s, sql: form.sql }],
    );
    const done = await applyFile(client, f, { run });
    outcomes.push({
      fileName: f.fileName,
      version: f.version,
      status: 'applied',
      ms: done.ms,
      effects: done.effects,
    });
  }
  return { files: outcomes, afterCommit };
}
