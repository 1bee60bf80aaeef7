/**
 * Applies pending migrations in ONE transaction under an advisory lock, recording Supabase CLI history.
 * Unlike `supabase db push` (one transaction per file), a failure in any file leaves the target exactly
 * as it was: no new table, no new history row.
 */
import { performance } from 'node:perf_hooks';
import type { Client } from '../db/connect.js';
import { pgFields, withLockedClient } from '../db/connect.js';
import { OperationError } from '../errors.js';
import { redactText } from '../redact.js';
import type { MigrationFile } from './files.js';
import { lineAt, readMigrations } from './files.js';
import type { ParsedStatement } from './lint.js';
import { parseMigration } from './lint.js';
import type { HistoryRow } from './history.js';
import { ensureHistoryTable, insertHistory, readHistory } from './history.js';

export interface MigrationPlan {
  readonly applied: readonly HistoryRow[];
  readonly pending: readonly MigrationFile[];
}

/**
 * Compares local files with the target's history, with the Supabase CLI's rules
 * (`FindPendingMigrations`): a history version without a local file is an error; a pending file older
 * than the newest applied version is an error unless `includeAll`.
 */
export function planMigrations(
  history: readonly HistoryRow[],
  files: readonly MigrationFile[],
  includeAll: boolean,
): MigrationPlan {
  const local = new Set(files.map((f) => f.version));
  const remoteOnly = history.filter((h) => !local.has(h.version)).map((h) => h.version);
  if (remoteOnly.length > 0) {
    throw new OperationError(
      `The target's migration history has version ${remoteOnly.join(', ')} with no file in supabase/migrations; restore the file or run \`supabase migration repair --status reverted ${remoteOnly[0]}\`.`,
    );
  }
  const appliedVersions = new Set(history.map((h) => h.version));
  const pending = files.filter((f) => !appliedVersions.has(f.version));
  const newest = history.at(-1)?.version;
  if (!includeAll && newest !== undefined) {
    const early = pending.filter((f) => f.version < newest);
    if (early.length > 0) {
      throw new OperationError(
        `Pending migration ${early[0]!.fileName} is older than the newest applied one (${newest}); rename it to a newer timestamp or pass --include-all to apply it anyway.`,
      );
    }
  }
  return { applied: history, pending };
}

export interface AppliedMigration {
  readonly version: string;
  readonly name: string;
  readonly fileName: string;
  readonly ms: number;
}

export interface ApplyOptions {
  readonly includeAll?: boolean;
  /** 'rollback' applies everything and then rolls back: a real dry run. */
  readonly mode?: 'commit' | 'rollback';
  /** Postgres lock_timeout for the migration statements, e.g. '5s'. */
  readonly lockTimeout?: string;
  readonly statementTimeout?: string;
  /** Called before each file (progress). */
  readonly onFile?: (file: MigrationFile, index: number, total: number) => void;
  /** Called after each file ran (still inside the transaction). */
  readonly onApplied?: (applied: AppliedMigration) => void;
}

export interface ApplyResult {
  readonly alreadyApplied: number;
  readonly applied: readonly AppliedMigration[];
  readonly mode: 'commit' | 'rollback';
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
 * Runs one statement of a file; maps a server error to the file and line (the statement's line plus
 * the error position within it). Statement by statement, because an error without a position
 * ("relation does not exist" in an ALTER TABLE) would otherwise only name the file's first line.
 */
export async function runStatement(client: Client, file: MigrationFile, s: ParsedStatement): Promise<void> {
  try {
    await client.query(s.sql);
  } catch (err) {
    const pos = Number(pgFields(err).position);
    const line = s.line + (Number.isFinite(pos) && pos > 0 ? lineAt(s.sql, pos - 1) - 1 : 0);
    throw new MigrationFailedError(file.fileName, line, redactText((err as Error).message), err);
  }
}

/**
 * Applies the pending migrations of `dir` to the database at `url` in a single transaction, holding the
 * crm-env migration advisory lock (a second concurrent run fails fast).
 */
export async function migrateUp(
  url: string,
  dir: string,
  options: ApplyOptions = {},
  label = 'target',
): Promise<ApplyResult> {
  const { files } = await readMigrations(dir);
  return withLockedClient(
    url,
    {
      label,
      lock: 'migrate',
      busyMessage:
        'Another crm-env migration is running on this database; wait for it to finish and try again.',
    },
    (client) => applyPending(client, files, options),
  );
}

/** The transaction itself, for callers that already hold a client and the lock (deploy). */
export async function applyPending(
  client: Client,
  files: readonly MigrationFile[],
  options: ApplyOptions,
): Promise<ApplyResult> {
  const mode = options.mode ?? 'commit';
  const plan = planMigrations(await readHistory(client), files, options.includeAll ?? false);
  if (plan.pending.length === 0) return { alreadyApplied: plan.applied.length, applied: [], mode };
  await client.query('begin');
  try {
    const applied = await applyInOpenTransaction(client, plan.pending, options);
    await client.query(mode === 'commit' ? 'commit' : 'rollback');
    return { alreadyApplied: plan.applied.length, applied, mode };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Runs one file statement by statement, then writes its history row as the Supabase CLI does.
 * Returns the time taken. Transaction control is the caller's.
 */
export async function applyFile(client: Client, file: MigrationFile): Promise<number> {
  const start = performance.now();
  const statements = await parseMigration(file.fileName, file.sql);
  for (const s of statements) await runStatement(client, file, s);
  await insertHistory(
    client,
    file.version,
    file.name,
    statements.map((s) => s.sql),
  );
  return performance.now() - start;
}

/**
 * Runs `pending` files and records their history inside the caller's open transaction (reset uses
 * this to rebuild the schema and re-apply everything as one unit).
 */
export async function applyInOpenTransaction(
  client: Client,
  pending: readonly MigrationFile[],
  options: ApplyOptions = {},
): Promise<AppliedMigration[]> {
  // History table first: it sets its own short lock_timeout, which ours then replaces.
  await ensureHistoryTable(client);
  if (options.lockTimeout)
    await client.query(`select set_config('lock_timeout', $1, true)`, [options.lockTimeout]);
  if (options.statementTimeout) {
    await client.query(`select set_config('statement_timeout', $1, true)`, [options.statementTimeout]);
  }
  const applied: AppliedMigration[] = [];
  let i = 0;
  for (const file of pending) {
    options.onFile?.(file, i++, pending.length);
    const done = {
      version: file.version,
      name: file.name,
      fileName: file.fileName,
      ms: await applyFile(client, file),
    };
    options.onApplied?.(done);
    applied.push(done);
  }
  return applied;
}
