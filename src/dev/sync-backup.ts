/**
 * The cloud backup a push writes before it changes anything: plain SQL in pg_dump's conventions
 * (statements plus `COPY … FROM stdin` blocks), restorable by stock `psql -1 -f` and by
 * `crm-env restore`. Written inside the push's transaction, after the tables are locked, so it is
 * exactly the data the push replaces.
 */
import { once } from 'node:events';
import type { WriteStream } from 'node:fs';
import path from 'node:path';
import type { TableInfo } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { copyToWritable } from '../db/copy.js';
import { backupPath, commitBackupFile, discardBackupFile, reserveBackupFile } from '../db/backup-file.js';
import { columnList } from '../db/sql.js';
import { testUserPredicate } from './test-users-sql.js';

export interface SyncBackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly rows: number;
  readonly testUsers: number;
}

/** Folder and timestamped name: backups/sync/cloud_backup_YYYYMMDD_HHMMSS.sql (before reservation). */
export function syncBackupPath(backupDir: string, date = new Date()): string {
  return backupPath(path.join(backupDir, 'sync'), 'cloud', date);
}

/**
 * Writes the backup. `tables` in foreign-key order; `authUsers`/`authIdentities` are the cloud's auth
 * tables (their copyable columns).
 */
export async function writeSyncBackup(
  cloud: Client,
  backupDir: string,
  tables: readonly TableInfo[],
  authUsers: TableInfo,
  authIdentities: TableInfo,
  testDomain: string,
  header: readonly string[],
): Promise<SyncBackupResult> {
  const reserved = await reserveBackupFile(path.join(backupDir, 'sync'), 'cloud');
  const out = reserved.handle.createWriteStream();
  try {
    const written = await writeBackupText(out, cloud, tables, authUsers, authIdentities, testDomain, header);
    // Durable before the push empties anything.
    await commitBackupFile(reserved);
    return { file: reserved.file, ...written };
  } catch (err) {
    // A failed backup leaves no half-written copy of the cloud's data behind.
    if (!out.closed) {
      out.destroy();
      await once(out, 'close').catch(() => undefined);
    }
    await discardBackupFile(reserved);
    throw err;
  }
}

async function writeBackupText(
  out: WriteStream,
  cloud: Client,
  tables: readonly TableInfo[],
  authUsers: TableInfo,
  authIdentities: TableInfo,
  testDomain: string,
  header: readonly string[],
): Promise<Omit<SyncBackupResult, 'file'>> {
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const pred = testUserPredicate(testDomain);
  let rows = 0;
  await write(
    [
      ...header.map((h) => `-- ${h}`),
      '',
      `SET client_encoding = 'UTF8';`,
      `SET standard_conforming_strings = on;`,
      `SET "DateStyle" = 'ISO, YMD';`,
      `SET "TimeZone" = 'UTC';`,
      `SET "IntervalStyle" = 'postgres';`,
      `SET check_function_bodies = false;`,
      '',
      `TRUNCATE TABLE ${tables.map((t) => t.qualified).join(', ')};`,
      `DELETE FROM ${authUsers.qualified} WHERE ${pred};`,
      '',
    ].join('\n'),
  );
  const blocks: { table: TableInfo; where?: string }[] = [
    { table: authUsers, where: pred },
    { table: authIdentities, where: `user_id in (select id from ${authUsers.qualified} where ${pred})` },
    ...tables.map((table) => ({ table })),
  ];
  let testUsers = 0;
  for (const { table, where } of blocks) {
    await write(`COPY ${table.qualified} (${columnList(table.copyColumns)}) FROM stdin;\n`);
    const r = await copyToWritable(
      cloud,
      { qualified: table.qualified, columns: table.copyColumns, where },
      out,
    );
    await write('\\.\n\n');
    if (table === authUsers) testUsers = r.rows;
    else if (table !== authIdentities) rows += r.rows;
  }
  const sequences = tables.flatMap((t) => t.sequences.map((s) => s.sequence));
  if (sequences.length > 0) {
    // All counters in one round trip.
    const { rows: seq } = await cloud.query<{ i: number; last_value: string; is_called: boolean }>(
      sequences
        .map((name, i) => `select ${i} as i, last_value::text, is_called from ${name}`)
        .join(' union all '),
    );
    for (const [i, name] of sequences.entries()) {
      const v = seq.find((r) => Number(r.i) === i)!;
      await write(
        `SELECT pg_catalog.setval('${name.replace(/'/g, "''")}', ${BigInt(v.last_value)}, ${v.is_called});\n`,
      );
    }
  }
  out.end();
  await once(out, 'finish');
  return { bytes: out.bytesWritten, rows, testUsers };
}
