/**
 * Migration backups: `pg_dump` of what the project owns, as a plain SQL file that restores in ONE
 * transaction as the schema owner (`crm-env restore`, or stock `psql -1 -v ON_ERROR_STOP=1 -f`).
 *
 * Scope (a decision, not an accident): the full backup holds the schemas the project owns, schema and
 * data — `public` and `supabase_migrations` (the history, so that a restore also restores which
 * migrations are applied). It leaves out `auth`, `storage`, `extensions` and the rest of Supabase's
 * schemas: on real Supabase `postgres` can neither drop nor re-create their objects, so a backup that
 * `--clean`s them could never be restored there (the test users' auth rows travel in sync backups).
 *
 * pg_dump flags: `--no-owner --clean --if-exists` as the spec's backup.sh, but WITH privileges: the
 * migrations grant and revoke explicitly (anon gets nothing), and re-created tables would otherwise
 * get Supabase's default privileges (ALL to anon and authenticated). The output goes through
 * {@link dumpFilterStream}, which keeps schemas instead of dropping them; see there why.
 *
 * The schema-only backup (`schemaOnly`) is the full one without the `public` tables' rows: the schema
 * and the migration history, for rehearsing migrations on a copy of production's schema.
 *
 * The data-only backup (`dataOnly`) holds the `public` tables' rows, preceded by one TRUNCATE of those
 * tables, so that restoring it replaces the data; it leaves out the migration history, which
 * describes the schema that a data-only restore keeps.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { commitBackupFile, discardBackupFile, reserveBackupFile } from '../db/backup-file.js';
import { withClient } from '../db/connect.js';
import { findPgDump, runPgDump, serverMajor } from '../db/pg-dump.js';
import { dumpFilterStream } from '../db/pg-dump-filter.js';
import { listTables } from '../db/catalog.js';
import { UsageError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';

export interface BackupOptions {
  /** Data of the `public` tables only (smaller), with a TRUNCATE so that restoring replaces the data. */
  readonly dataOnly?: boolean;
  /**
   * The schemas of a full backup with the migration history but no `public` rows: a copy of the
   * production schema for rehearsing migrations in CI (a "shadow"), with no production data.
   */
  readonly schemaOnly?: boolean;
  /** After writing, keep only the newest `keep` backups of this label in the folder. */
  readonly keep?: number;
  /** File name prefix; default the target's label (local, cloud, custom). */
  readonly label?: string;
  /** Folder under config.backupDir; default 'migrations'. */
  readonly subdir?: string;
}

export interface BackupResult {
  /** Absolute path of the backup file. */
  readonly file: string;
  readonly bytes: number;
  readonly ms: number;
  /** The pg_dump used and its version, e.g. "/usr/bin/pg_dump (15.18)". */
  readonly pgDump: string;
}

/** The schemas a full backup holds (see the module comment for why only these). */
export const BACKUP_SCHEMAS = ['public', 'supabase_migrations'] as const;

export { backupTimestamp } from '../db/backup-file.js';

const NAME = /^(.+)_backup_(\d{8}_\d{6})(?:_(\d+))?\.sql$/;

/** Backup files of `label` in `dir`, oldest first (by the timestamp in the name, then the counter). */
export function listBackups(dir: string, label: string): string[] {
  if (!existsSync(dir)) return [];
  const key = (f: string): [string, number] => {
    const m = NAME.exec(f)!;
    return [m[2]!, Number(m[3] ?? 0)];
  };
  return readdirSync(dir)
    .filter((f) => NAME.exec(f)?.[1] === label)
    .sort((a, b) => {
      const [ta, na] = key(a);
      const [tb, nb] = key(b);
      return ta === tb ? na - nb : ta < tb ? -1 : 1;
    })
    .map((f) => path.join(dir, f));
}

/** Deletes all but the newest `keep` backups of `label`; returns the deleted paths. */
export function pruneBackups(dir: string, label: string, keep: number): string[] {
  const files = listBackups(dir, label);
  const doomed = files.slice(0, Math.max(0, files.length - keep));
  for (const f of doomed) unlinkSync(f);
  return doomed;
}

/**
 * Writes a backup of `target` to `<backupDir>/<subdir>/<label>_backup_<YYYYMMDD_HHMMSS>.sql` (mode
 * 0600, folders 0700), through a `.partial` file that is fsynced and renamed, so a file with the final
 * name is always complete.
 * @throws ConfigError when the target is unreachable or no pg_dump fits its version; OperationError
 * when pg_dump fails (its stderr, redacted).
 */
export async function createBackup(
  config: Config,
  target: DatabaseTarget,
  options: BackupOptions = {},
  reporter: Reporter = silentReporter,
): Promise<BackupResult> {
  const t0 = performance.now();
  const label = options.label ?? target.label;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(label))
    throw new UsageError(`Invalid backup label ${JSON.stringify(label)}.`);
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) {
    throw new UsageError(`--keep must be a whole number of at least 1 (got ${options.keep}).`);
  }
  const dataOnly = options.dataOnly ?? false;
  if (dataOnly && options.schemaOnly)
    throw new UsageError('--data-only and --schema-only exclude each other.');

  const { major, truncate } = await withClient(
    target.url,
    async (client) => {
      const major = await serverMajor(client);
      if (!dataOnly) return { major, truncate: undefined };
      const tables = await listTables(client, 'public');
      const list = tables.map((t) => t.qualified).join(', ');
      return { major, truncate: tables.length > 0 ? `TRUNCATE TABLE ${list};` : undefined };
    },
    // pg_dump needs a session of its own: refuse a transaction pooler before starting it.
    { label: target.label, ownSession: true },
  );
  const bin = await findPgDump(config, major);

  const dir = path.join(config.backupDir, options.subdir ?? 'migrations');
  const reserved = await reserveBackupFile(dir, label);
  const { file, handle } = reserved;
  const flags = dataOnly
    ? ['--format=plain', '--data-only', '--no-owner', '--schema=public']
    : [
        '--format=plain',
        '--no-owner',
        '--clean',
        '--if-exists',
        ...BACKUP_SCHEMAS.map((s) => `--schema=${s}`),
      ];
  if (options.schemaOnly) flags.push('--exclude-table-data=public.*');
  // Fail rather than wait forever behind a long-running migration's lock.
  flags.push('--lock-wait-timeout=60s');

  try {
    await runPgDump({
      bin,
      url: target.url,
      flags,
      output: handle.createWriteStream(),
      transform: dumpFilterStream({ beforeData: truncate }),
      secrets: config.secrets,
    });
    await commitBackupFile(reserved);
  } catch (err) {
    await discardBackupFile(reserved);
    throw err;
  }

  if (options.keep !== undefined) {
    const removed = pruneBackups(dir, label, options.keep);
    if (removed.length > 0) {
      reporter.info(
        `Removed ${removed.length} older ${label} backup(s): ${removed.map((f) => path.basename(f)).join(', ')}`,
      );
    }
  }
  return {
    file,
    bytes: statSync(file).size,
    ms: performance.now() - t0,
    pgDump: `${bin.path} (${bin.version})`,
  };
}
