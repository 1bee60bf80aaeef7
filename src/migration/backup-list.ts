/**
 * `crm-env backups list`: every backup file under BACKUP_DIR (and its folders) with its kind, target,
 * time, size, rows and whether it is complete — read from each file's first line and manifest, never
 * from the whole file. Unfinished `.partial` files are listed too.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { BackupKind } from '../db/backup-file.js';
import { backupNameDate, parseBackupName } from '../db/backup-file.js';
import type { BackupFileStatus } from '../db/backup-manifest.js';
import { inspectBackupFile, manifestRows } from '../db/backup-manifest.js';
import { shownPath } from '../format.js';

export interface BackupListEntry {
  /** Absolute path. */
  readonly file: string;
  readonly kind: BackupKind | null;
  readonly target: string | null;
  /** When it was taken (ISO, UTC). */
  readonly takenAt: string;
  readonly bytes: number;
  /** Rows it holds, from its manifest; null without one. */
  readonly rows: number | null;
  /** End marker and a valid manifest: restorable by `crm-env restore`. */
  readonly complete: boolean;
  readonly status: BackupFileStatus | 'unfinished';
  /** Why it is not complete; null when it is. */
  readonly problem: string | null;
}

/** The backup files under `config.backupDir`, newest first. */
export async function listBackupFiles(config: Config): Promise<BackupListEntry[]> {
  const entries: BackupListEntry[] = [];
  for (const file of candidateFiles(config.backupDir)) entries.push(await describe(file));
  return entries.sort((a, b) => (a.takenAt === b.takenAt ? 0 : a.takenAt < b.takenAt ? 1 : -1));
}

/** `.sql` and `.sql.partial` files in the folder and its direct subfolders. */
function candidateFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const scan = (d: string, depth: number): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth === 0) scan(p, 1);
      else if (e.isFile() && /\.sql(\.partial)?$/.test(e.name)) out.push(p);
    }
  };
  scan(dir, 0);
  return out;
}

/** Kind of a file named before backups carried their kind: known from its folder only for sync/reset. */
function legacyKind(file: string): BackupKind | null {
  const folder = path.basename(path.dirname(file));
  return folder === 'sync' || folder === 'reset' ? folder : null;
}

async function describe(file: string): Promise<BackupListEntry> {
  const st = statSync(file);
  const name = parseBackupName(file.replace(/\.partial$/, ''));
  const fromName = {
    kind: name ? (name.kind ?? legacyKind(file)) : null,
    target: name?.target ?? null,
    takenAt: (backupNameDate(file.replace(/\.partial$/, '')) ?? st.mtime).toISOString(),
  };
  if (file.endsWith('.partial')) {
    return {
      file,
      ...fromName,
      bytes: st.size,
      rows: null,
      complete: false,
      status: 'unfinished',
      problem:
        'still being written, or left by a killed run (the next backup in its folder removes it once stale)',
    };
  }
  const found = await inspectBackupFile(file);
  const m = found.manifest;
  return {
    file,
    kind: m?.kind ?? found.header?.kind ?? fromName.kind,
    target: fromName.target ?? found.header?.target ?? m?.target ?? null,
    takenAt: m?.createdAt ?? found.header?.createdAt ?? fromName.takenAt,
    bytes: st.size,
    rows: m ? manifestRows(m) : null,
    complete: found.status === 'complete',
    status: found.status,
    problem: found.problem,
  };
}

/** The folder shown in the listing's title. */
export function shownBackupDir(config: Config): string {
  return shownPath(config.projectDir, config.backupDir);
}
