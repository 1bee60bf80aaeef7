/**
 * Before a command writes a backup: the folder exists or can be made, is writable, and its file system
 * has room for the estimated backup. Read-only: nothing is created here.
 */
import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '../db/connect.js';
import { formatBytes } from '../format.js';

/** What a backup holds: a pg_dump full backup (public schema), or a sync backup (public + test users). */
export type BackupScope = 'full' | 'sync';

/** Room for what a backup writes besides rows: headers, schema text, the migration history. */
const SLACK_BYTES = 64 * 1024;

/**
 * The size of a table's data pages. A table someone holds ACCESS EXCLUSIVE on (a migration under way)
 * is sized from the catalog instead, so the read-only preflight never queues behind that lock.
 */
const dataBytes = (oid: string, toast: string): string => `case
  when exists (select 1 from pg_locks l where l.relation = ${oid} and l.mode = 'AccessExclusiveLock'
                 and l.granted and l.pid <> pg_backend_pid())
  then (select relpages::bigint from pg_class where oid = ${oid}) * current_setting('block_size')::bigint
  else pg_relation_size(${oid}) + coalesce(pg_relation_size(nullif(${toast}, 0)), 0) end`;

/**
 * Estimated backup size: the data pages of the public tables (a dump's text is about as large as the
 * heap it comes from), plus auth.users twice over for a sync backup (its test users and identities).
 */
export async function estimateBackupBytes(client: Client, scope: BackupScope): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>(estimateBackupBytesSql(scope));
  return backupBytesFromRow(rows[0]!);
}

/** {@link estimateBackupBytes}' query: one statement without parameters, to send with others. */
export function estimateBackupBytesSql(scope: BackupScope): string {
  return `select (select coalesce(sum(${dataBytes('c.oid', 'c.reltoastrelid')}), 0)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = 'public' and c.relkind = 'r')
          + (select coalesce(sum(2 * ${dataBytes('c.oid', 'c.reltoastrelid')}), 0)
               from pg_class c where ${scope === 'sync' ? 'true' : 'false'} and c.oid = to_regclass('auth.users'))
          as bytes`;
}

/** The estimate from the row of {@link estimateBackupBytesSql}. */
export function backupBytesFromRow(row: Record<string, unknown>): number {
  return Number(row.bytes) + SLACK_BYTES;
}

/** The folder itself when it exists, else its nearest existing ancestor (what mkdir -p would write into). */
async function nearestExisting(dir: string): Promise<{ existing: string; isDir: boolean }> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const st = await stat(current);
      return { existing: current, isDir: st.isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return { existing: current, isDir: false };
      const parent = path.dirname(current);
      if (parent === current) return { existing: current, isDir: false };
      current = parent;
    }
  }
}

/**
 * Checks `dir` for a backup of about `neededBytes`. Returns one sentence when it cannot hold it: not a
 * folder and not creatable, not writable, or clearly short of room (less than half the estimate free;
 * the estimate comes from data pages, which can hold dead rows a dump does not write).
 */
export async function backupFolderProblem(
  dir: string,
  neededBytes: number,
  shown: string,
): Promise<string | null> {
  const { existing, isDir } = await nearestExisting(dir);
  if (!isDir) {
    return existing === path.resolve(dir)
      ? `The backup folder ${shown} is not a folder; set BACKUP_DIR to a folder (nothing was changed).`
      : `The backup folder ${shown} cannot be created (${existing} is not a folder); set BACKUP_DIR to a folder you can write (nothing was changed).`;
  }
  try {
    await access(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    const what =
      existing === path.resolve(dir)
        ? `The backup folder ${shown}`
        : `${existing}, where the backup folder ${shown} would be created,`;
    return `${what} ${why}; fix its permissions or set BACKUP_DIR to a writable folder (nothing was changed).`;
  }
  const fs = await statfs(existing);
  const free = fs.bavail * fs.bsize;
  if (free < neededBytes / 2) {
    return `The backup folder ${shown} has ${formatBytes(free)} free, but the backup needs about ${formatBytes(neededBytes)}; free some space or set BACKUP_DIR to a larger disk (nothing was changed).`;
  }
  return null;
}
