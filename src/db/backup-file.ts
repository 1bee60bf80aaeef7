/**
 * Backup files, for every command that writes one: `<label>_backup_<YYYYMMDD_HHMMSS>.sql` in a 0700
 * folder, written as a 0600 `.partial`, fsynced, then given its final name — so a file with a final
 * name is always complete, and a backup never replaces an earlier one.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import path from 'node:path';

/** `YYYYMMDD_HHMMSS` in UTC, the spec's backup file timestamp. */
export function backupTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

/** The name a backup taken at `date` gets when nothing else has it. */
export function backupPath(dir: string, label: string, date: Date = new Date()): string {
  return path.join(dir, `${label}_backup_${backupTimestamp(date)}.sql`);
}

export interface ReservedBackupFile {
  /** Final name. */
  readonly file: string;
  readonly partial: string;
  /** Open for writing on the `.partial` file. */
  readonly handle: FileHandle;
}

/**
 * Reserves a name no file (finished or in progress) has, by creating its `.partial` exclusively: two
 * backups in one second get `_1`, `_2`, even from two processes.
 */
export async function reserveBackupFile(
  dir: string,
  label: string,
  date: Date = new Date(),
): Promise<ReservedBackupFile> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const first = backupPath(dir, label, date);
  for (let n = 0; ; n++) {
    const file = n === 0 ? first : first.replace(/\.sql$/, `_${n}.sql`);
    if (existsSync(file)) continue;
    try {
      return { file, partial: `${file}.partial`, handle: await open(`${file}.partial`, 'wx', 0o600) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Makes the written `.partial` durable (fsync) and gives it its final name. */
export async function commitBackupFile(reserved: ReservedBackupFile): Promise<void> {
  const fh = await open(reserved.partial, 'r');
  await fh.sync();
  await fh.close();
  chmodSync(reserved.partial, 0o600);
  renameSync(reserved.partial, reserved.file);
}

/** Removes a half-written backup (it may hold a partial copy of someone's data). */
export async function discardBackupFile(reserved: ReservedBackupFile): Promise<void> {
  await reserved.handle.close().catch(() => undefined);
  rmSync(reserved.partial, { force: true });
}
