/**
 * Restores a backup file — any kind: full, data, sync, reset, safety — into a database: after a safety
 * backup of the target, in ONE transaction under the crm-env 'restore' advisory lock, statements run
 * by the psql-compatible {@link runSqlScript}. Any error rolls everything back: the target is exactly
 * as it was.
 *
 * The file must prove itself first (src/db/backup-manifest.ts): without its end marker and manifest,
 * or when its body's size or SHA-256 differ from the manifest, it is refused before anything connects.
 * After the script, still inside the transaction, every table's rows and content checksum are compared
 * with the manifest; a difference rolls the restore back. Files written before backups carried a
 * manifest restore only with `legacy` (`--legacy`), with a warning: nothing proves them complete,
 * although a file cut inside a COPY block still fails (its data is not terminated).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import type { Client } from '../db/connect.js';
import { listTables } from '../db/catalog.js';
import type { Confirmer } from '../confirm.js';
import { assertCanConfirm, confirmOrStop, noConfirmation } from '../confirm.js';
import { withLockedClient, withTransaction } from '../db/connect.js';
import { shownPath } from '../format.js';
import type { BackupKind } from '../db/backup-file.js';
import { restoreCommandLine } from '../db/backup-file.js';
import type { BackupManifest } from '../db/backup-manifest.js';
import { bodyMatches, compareWithManifest, inspectBackupFile, manifestRows } from '../db/backup-manifest.js';
import { runSqlScript } from '../db/sql-script.js';
import { qualify } from '../db/sql.js';
import { MismatchError, OperationError, UsageError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { BackupResult } from './backup.js';
import { createBackup } from './backup.js';
import { endOnAbort, interruptible } from '../interrupt.js';
import { runPreflight } from '../preflight/preflight.js';
import { restorePreflightPlan } from '../preflight/restore-needs.js';

export interface RestoreOptions {
  /** Asked (type `restore`) before anything is touched; default: nobody can confirm, so it is refused. */
  readonly confirm?: Confirmer;
  /** Take a safety backup of the target first (default true). */
  readonly backupFirst?: boolean;
  /** Accept a file without a crm-env manifest (written before backups carried one), unverified. */
  readonly legacy?: boolean;
  /** Stops the restore (Ctrl-C): pg_dump is killed, the connection ends, the transaction rolls back. */
  readonly signal?: AbortSignal;
}

export interface RestoreResult {
  readonly safetyBackup: BackupResult | null;
  readonly statements: number;
  readonly copiedRows: number;
  /** Rows after the restore in every `public` table and every table the file loaded with COPY. */
  readonly rowsPerTable: readonly { table: string; rows: number }[];
  /**
   * Tables in `public` that the file did not create although it re-created others (a full backup):
   * created after the backup was taken, they are left as they are (as `psql -f` would leave them).
   */
  readonly untouchedTables: readonly string[];
  /** The manifest the restored content was checked against before COMMIT; null for a legacy file. */
  readonly verified: { readonly kind: BackupKind; readonly tables: number; readonly rows: number } | null;
  /** The command that undoes this restore (restores the safety backup); null without one. */
  readonly undoCommand: string | null;
  readonly ms: number;
}

/**
 * Checks that `file` proves itself complete (end marker, manifest, body size and SHA-256) before
 * anything connects; returns its manifest, or null for a legacy file accepted with `legacy`.
 * @throws OperationError (exit 1, nothing changed) naming what is wrong.
 */
export async function checkBackupFile(
  file: string,
  shown: string,
  legacy = false,
): Promise<BackupManifest | null> {
  const found = await inspectBackupFile(file);
  if (found.status === 'complete') {
    if (await bodyMatches(file, found.manifest!)) return found.manifest;
    throw new OperationError(
      `Refusing to restore ${shown}: its content differs from its manifest (size or SHA-256), so it was damaged or edited after it was written; nothing was changed.`,
    );
  }
  if (found.status === 'legacy' && legacy) return null;
  throw new OperationError(`Refusing to restore ${shown}: ${found.problem}; nothing was changed.`, {
    details:
      found.status === 'legacy'
        ? ['If you know it is complete, pass --legacy to restore it without the check.']
        : [],
  });
}

interface TableRef {
  readonly schema: string;
  readonly name: string;
}

/** The relation a name written in the script resolves to (after the script, with its search_path). */
async function resolveTable(client: Client, written: string): Promise<TableRef | null> {
  const { rows } = await client.query<TableRef>(
    `select n.nspname as schema, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass($1)`,
    [written],
  );
  return rows[0] ?? null;
}

const COPY_TARGET = /^COPY\s+((?:"(?:[^"]|"")*"|[^\s(."]+)(?:\.(?:"(?:[^"]|"")*"|[^\s(."]+))?)/i;
const CREATE_TABLE =
  /^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+((?:"(?:[^"]|"")*"|[^\s(."]+)(?:\.(?:"(?:[^"]|"")*"|[^\s(."]+))?)/i;

function display(t: TableRef): string {
  return t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
}

/**
 * Restores `file` into `target`.
 * @throws UsageError when not confirmed or the file is missing (nothing touched); ConfigError when the
 * target is unreachable; OperationError (target unchanged, rolled back) when the script fails.
 */
export async function restoreBackup(
  config: Config,
  file: string,
  target: DatabaseTarget,
  options: RestoreOptions,
  reporter: Reporter = silentReporter,
): Promise<RestoreResult> {
  const confirmer = options.confirm ?? noConfirmation;
  assertCanConfirm(confirmer, 'Restore');
  const t0 = performance.now();
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
    accessSync(file, constants.R_OK);
  } catch {
    throw new UsageError(`Cannot read the backup file ${file}; nothing was changed.`);
  }
  const shown = shownPath(config.projectDir, file);
  const manifest = await checkBackupFile(file, shown, options.legacy);
  if (manifest === null)
    reporter.warn(`${shown} has no crm-env manifest: restoring it without a completeness check (--legacy).`);
  // Read-only checks of the target before anything changes (src/preflight/preflight.ts).
  await runPreflight(
    config,
    await restorePreflightPlan(file, target, options.backupFirst ?? true, options.signal),
  );
  await confirmOrStop(confirmer, 'Restore', {
    message: `Replace what ${redactUrl(target.url)} holds with the backup ${shown}?`,
    word: 'restore',
  });
  const interrupted = `Restore interrupted; the ${target.label} database was rolled back and is unchanged.`;
  const result = await interruptible(options.signal, interrupted, () =>
    withLockedClient(
      target.url,
      {
        label: target.label,
        lock: 'restore',
        busyMessage:
          'Another crm-env restore is running on this database; wait for it to finish and try again.',
      },
      async (client) => {
        const stop = endOnAbort(options.signal, [client]);
        try {
          return await restoreLocked(client, { config, file, shown, target, manifest, options }, reporter);
        } finally {
          stop();
        }
      },
    ),
  );
  return { ...result, ms: performance.now() - t0 };
}

interface RestoreJob {
  readonly config: Config;
  readonly file: string;
  readonly shown: string;
  readonly target: DatabaseTarget;
  readonly manifest: BackupManifest | null;
  readonly options: RestoreOptions;
}

/** Under the lock: safety backup, the transaction (script, then the manifest check), the summary. */
async function restoreLocked(
  client: Client,
  job: RestoreJob,
  reporter: Reporter,
): Promise<Omit<RestoreResult, 'ms'>> {
  const { config, target, manifest, options } = job;
  let safetyBackup: BackupResult | null = null;
  if (options.backupFirst ?? true) {
    reporter.step(`Backing up the ${target.label} database first...`);
    safetyBackup = await createBackup(config, target, { kind: 'safety', signal: options.signal }, reporter);
    reporter.info(`✓ Safety backup: ${shownPath(config.projectDir, safetyBackup.file)}`);
  }
  const details = safetyBackup
    ? [`Backup of the target taken before the restore: ${shownPath(config.projectDir, safetyBackup.file)}`]
    : [];
  reporter.step(`Restoring ${job.shown} in one transaction...`);
  const copied: string[] = [];
  const created: string[] = [];
  let run: { statements: number; copiedRows: number };
  try {
    run = await withTransaction(client, async () => {
      const r = await runSqlScript(client, job.file, {
        name: job.shown,
        onStatement: (s) => {
          const sql = s.sql.trimStart();
          const copy = s.copyRows !== null ? COPY_TARGET.exec(sql) : null;
          if (copy) copied.push(copy[1]!);
          const create = CREATE_TABLE.exec(sql);
          if (create) created.push(create[1]!);
          if (copy) {
            const done = copied.length;
            reporter.progress({ label: 'tables loaded', done, total: done + 1, unit: 'tables' });
          }
        },
      });
      if (manifest) await assertMatchesManifest(client, manifest, target);
      return r;
    });
  } catch (err) {
    if (err instanceof MismatchError)
      throw new MismatchError(err.message, { cause: err, details: [...err.details, ...details] });
    const why = redactText(err instanceof Error ? err.message : String(err), config.secrets);
    throw new OperationError(
      `Restore failed and was rolled back; the ${target.label} database is unchanged. ${why}`,
      { cause: err, details },
    );
  }
  if (manifest)
    reporter.info(
      `✓ Content matches the backup's manifest: ${manifest.tables.length} tables, ${manifestRows(manifest)} rows`,
    );
  try {
    const { rowsPerTable, untouchedTables } = await summarize(client, copied, created);
    if (untouchedTables.length > 0) {
      reporter.warn(
        `Tables that the backup does not contain were left as they are: ${untouchedTables.join(', ')}`,
      );
    }
    return {
      safetyBackup,
      ...run,
      rowsPerTable,
      untouchedTables,
      verified: manifest
        ? { kind: manifest.kind, tables: manifest.tables.length, rows: manifestRows(manifest) }
        : null,
      undoCommand: safetyBackup ? restoreCommandLine(config, safetyBackup.file, target) : null,
    };
  } catch (err) {
    const why = redactText(err instanceof Error ? err.message : String(err), config.secrets);
    throw new OperationError(`The restore was committed, but counting the rows afterwards failed: ${why}`, {
      cause: err,
      details,
    });
  }
}

/** Before COMMIT: the restored content must be what the manifest describes, else everything rolls back. */
async function assertMatchesManifest(
  client: Client,
  manifest: BackupManifest,
  target: DatabaseTarget,
): Promise<void> {
  const differences = await compareWithManifest(client, manifest);
  if (differences.length > 0) {
    throw new MismatchError(
      `The restored content does not match the backup's manifest; the restore was rolled back and the ${target.label} database is unchanged.`,
      { details: differences },
    );
  }
}

/** Row counts after the restore, and the public tables the (full) backup did not re-create. */
async function summarize(
  client: Client,
  copied: readonly string[],
  created: readonly string[],
): Promise<{ rowsPerTable: { table: string; rows: number }[]; untouchedTables: string[] }> {
  const publicTables = await listTables(client, 'public');
  const tables = new Map<string, TableRef>(publicTables.map((t) => [qualify(t.schema, t.name), t]));
  for (const written of copied) {
    const t = await resolveTable(client, written);
    if (t) tables.set(qualify(t.schema, t.name), t);
  }
  const rowsPerTable: { table: string; rows: number }[] = [];
  for (const [q, t] of [...tables].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Its own rows: an inheritance parent's children are counted as tables of their own.
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from ${q} t where t.tableoid = $1::regclass
          or exists (select 1 from pg_class where oid = $1::regclass and relkind = 'p')`,
      [q],
    );
    rowsPerTable.push({ table: display(t), rows: Number(rows[0]!.n) });
  }
  const createdSet = new Set<string>();
  for (const written of created) {
    const t = await resolveTable(client, written);
    if (t) createdSet.add(qualify(t.schema, t.name));
  }
  const untouchedTables =
    createdSet.size === 0
      ? []
      : publicTables
          .filter((t) => !createdSet.has(qualify(t.schema, t.name)))
          .map(display)
          .sort();
  return { rowsPerTable, untouchedTables };
}
