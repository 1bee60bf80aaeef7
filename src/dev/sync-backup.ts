/**
 * The cloud backup a push writes before it changes anything: plain SQL in pg_dump's conventions
 * (statements plus `COPY … FROM stdin` blocks), restorable by stock `psql -1 -f` and by
 * `crm-env restore`, with a manifest and end marker (src/db/backup-manifest.ts). Written inside the
 * push's transaction, after the tables are locked, so it is exactly the data the push replaces.
 *
 * A write error (full disk, read-only folder, I/O error, a disk that stops answering) ends the push
 * within seconds: the partial file is removed and the cloud session is rolled back — ended, when the
 * error hits in the middle of a COPY — so no lock on a cloud table outlives the failure.
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { ReservedBackupFile } from '../db/backup-file.js';
import {
  backupIoError,
  backupPath,
  commitBackupFile,
  discardBackupFile,
  pruneBackups,
  reserveBackupFile,
} from '../db/backup-file.js';
import type { ManifestTable, TextSink } from '../db/backup-manifest.js';
import {
  backupHeader,
  COPY_SETTINGS_SQL,
  manifestTrailer,
  MANIFEST_FORMAT,
  serverVersion,
  tableManifest,
  tableManifestRead,
  testUserAuthEntries,
  toolVersion,
  writeCopyBlock,
  writeTestUserAuth,
} from '../db/backup-manifest.js';
import type { TableInfo } from '../db/catalog.js';
import { cycleBreakingConstraints } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { writeCopyBlocksBatched } from '../db/copy-batch.js';
import { withClient } from '../db/connect.js';
import { readTogether, valueRead } from '../db/read-together.js';
import { readTableSequences, setvalRead } from '../db/sequences.js';
import { readMatviews, refreshStatements } from '../db/matviews.js';
import { shownPath } from '../format.js';
import { redactUrl } from '../redact.js';
import { testUserPredicate } from './test-users-sql.js';

export interface SyncBackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly rows: number;
  readonly testUsers: number;
}

/** Folder and timestamped name: backups/sync/cloud_sync_backup_YYYYMMDD_HHMMSS.sql (before reservation). */
export function syncBackupPath(backupDir: string, date = new Date()): string {
  return backupPath(path.join(backupDir, 'sync'), 'cloud', 'sync', date);
}

/**
 * Writes the backup. `tables` in foreign-key order; `authUsers`/`authIdentities` are the cloud's auth
 * tables (their copyable columns); `notes` go into the header.
 * @throws ConfigError (folder not writable) or OperationError (write failed), the file removed.
 */
export async function writeSyncBackup(
  cloud: Client,
  config: Config,
  tables: readonly TableInfo[],
  authUsers: TableInfo,
  authIdentities: TableInfo,
  testDomain: string,
  notes: readonly string[],
  batched: ReadonlySet<TableInfo> = new Set(),
): Promise<SyncBackupResult> {
  const createdAt = new Date();
  const reserved = await reserveBackupFile(
    path.join(config.backupDir, 'sync'),
    'cloud',
    'sync',
    config.projectDir,
    createdAt,
  );
  let file: string;
  let written: Omit<SyncBackupResult, 'file'>;
  try {
    written = await writeBackupText(reserved, cloud, config, tables, authUsers, authIdentities, testDomain, {
      notes,
      createdAt,
      batched,
    });
    // Durable before the push empties anything.
    file = await commitBackupFile(reserved);
  } catch (err) {
    // A failed backup leaves no half-written copy of the cloud's data behind.
    await discardBackupFile(reserved);
    if (reserved.sink.failure === null) throw err;
    throw backupIoError(
      reserved.sink.failure,
      `Cannot write the cloud backup ${shownPath(config.projectDir, reserved.file)}`,
      'the push stopped before changing anything, the cloud transaction was rolled back and the partial file removed.',
    );
  }
  if (config.backupRetention > 0) pruneBackups(reserved.dir, 'cloud', 'sync', config.backupRetention);
  return { file, ...written };
}

async function writeBackupText(
  reserved: ReservedBackupFile,
  cloud: Client,
  config: Config,
  tables: readonly TableInfo[],
  authUsers: TableInfo,
  authIdentities: TableInfo,
  testDomain: string,
  header: { notes: readonly string[]; createdAt: Date; batched: ReadonlySet<TableInfo> },
): Promise<Omit<SyncBackupResult, 'file'>> {
  const sink = reserved.sink;
  const auth = testUserAuthEntries(authUsers, authIdentities, testUserPredicate(testDomain));
  await sink.write(
    backupHeader({ kind: 'sync', target: 'cloud', createdAt: header.createdAt.toISOString() }, header.notes),
  );
  await sink.write(
    [
      COPY_SETTINGS_SQL,
      `TRUNCATE TABLE ${tables.map((t) => t.source).join(', ')};`,
      ...deferCycles(tables),
      '',
    ].join('\n'),
  );
  // The public tables are locked, the test users' auth rows are locked as they are copied: the
  // manifest, computed after the COPYs, describes the same rows.
  const testUsers = await writeTestUserAuth(cloud, sink, auth, true);
  const entries = [...tables.map((table) => ({ table })), ...auth];
  // Only worth a second session (four round trips to open) when some table is not small.
  const small = tables.every((t) => header.batched.has(t));
  const aside = config.cloud && !small ? manifestAside(config.cloud.url, entries) : null;
  let rows = 0;
  rows += await writeTableBlocks(cloud, sink, tables, header.batched);
  const sequences = setvalRead(await readTableSequences(cloud, 'public'));
  // Without a second session, the manifest's checksums go with the sequence read: one round trip.
  const [setvals, own] = await readTogether(
    cloud,
    sequences,
    aside === null ? tableManifestRead(entries) : valueRead(null),
  );
  await sink.write(setvals);
  await sink.write(refreshStatements(await readMatviews(cloud, 'public')));
  const contents = own ?? (await aside) ?? (await tableManifest(cloud, entries));
  const body = sink.endBody();
  await sink.write(
    manifestTrailer({
      format: MANIFEST_FORMAT,
      kind: 'sync',
      target: 'cloud',
      database: config.cloud ? redactUrl(config.cloud.url) : 'cloud',
      createdAt: header.createdAt.toISOString(),
      tool: toolVersion(),
      server: await serverVersion(cloud),
      pgDump: null,
      tables: contents,
      bytes: body.bytes,
      sha256: body.sha256,
    }),
  );
  return { bytes: sink.bytes, rows, testUsers };
}

/**
 * The tables' COPY blocks in order: runs of `batched` (small) tables in one COPY each (one round
 * trip), the others with their own COPY.
 */
async function writeTableBlocks(
  cloud: Client,
  sink: TextSink,
  tables: readonly TableInfo[],
  batched: ReadonlySet<TableInfo>,
): Promise<number> {
  let rows = 0;
  let run: TableInfo[] = [];
  const flush = async (): Promise<void> => {
    if (run.length > 0) rows += (await writeCopyBlocksBatched(cloud, sink, run)).reduce((a, n) => a + n, 0);
    run = [];
  };
  for (const table of tables) {
    if (batched.has(table) && table.copyColumns.length > 0) {
      run.push(table);
      continue;
    }
    await flush();
    rows += await writeCopyBlock(cloud, sink, table);
  }
  await flush();
  return rows;
}

/**
 * The manifest's checksums read on a second cloud session while the push's session streams the COPYs,
 * so that they cost no time in the lock window. It sees exactly what the backup holds: the public
 * tables are locked against writers, the test users' auth rows locked by their COPY. Null (the caller
 * then reads them in its own session) when that session cannot connect or waits for a lock: another
 * session queued for an ACCESS EXCLUSIVE lock behind the push's would make it wait for the push.
 */
async function manifestAside(
  url: string,
  entries: readonly { table: TableInfo; where?: string }[],
): Promise<ManifestTable[] | null> {
  try {
    return await withClient(
      url,
      async (c) => {
        await c.query(`set lock_timeout = '2s'`);
        return await tableManifest(c, entries);
      },
      { label: 'cloud' },
    );
  } catch {
    return null;
  }
}

/**
 * Foreign keys that close a cycle are DEFERRABLE (else the tables could not be ordered): the restore
 * defers them until its COMMIT, since the file loads the tables one after the other.
 */
function deferCycles(tables: readonly TableInfo[]): string[] {
  const names = cycleBreakingConstraints(tables).map((c) => c.qualified);
  return names.length > 0 ? [`SET CONSTRAINTS ${names.join(', ')} DEFERRED;`] : [];
}
