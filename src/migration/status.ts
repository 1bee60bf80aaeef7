/**
 * `migrate status`: each migration, local and cloud side by side, as `supabase migration list` shows
 * them, plus what that list does not say: files edited after they were applied. Read-only.
 */
import type { DatabaseTarget } from '../config.js';
import { withClient } from '../db/connect.js';
import { redactUrl } from '../redact.js';
import { checkChangedAfterApply } from './checks.js';
import type { MigrationFile } from './files.js';
import { readMigrations } from './files.js';
import type { HistoryRow } from './history.js';
import { readHistory } from './history.js';

/**
 * A migration on one database: `applied`; `pending` (file not applied yet); `edited` (applied, but the
 * file changed since); `missing-file` (in the database's history, with no file in supabase/migrations).
 * Null: neither a file nor a history row (a version only another database has applied, file lost).
 */
export type MigrationState = 'applied' | 'pending' | 'edited' | 'missing-file';

export interface MigrationStatusRow {
  readonly version: string;
  readonly name: string | null;
  /** Null when there is no file for this version. */
  readonly fileName: string | null;
  /** Per database label (local, cloud). */
  readonly states: Readonly<Record<string, MigrationState | null>>;
}

export interface DatabaseStatus {
  readonly target: DatabaseTarget['label'];
  readonly url: string;
  readonly counts: Readonly<Record<MigrationState, number>>;
  readonly upToDate: boolean;
}

export interface MigrationStatusReport {
  readonly databases: readonly DatabaseStatus[];
  readonly migrations: readonly MigrationStatusRow[];
  /** Every database has every file applied, unedited, and no history row without a file. */
  readonly upToDate: boolean;
}

async function statesOf(
  history: readonly HistoryRow[],
  files: readonly MigrationFile[],
): Promise<Map<string, MigrationState>> {
  const edited = new Set((await checkChangedAfterApply(history, files)).map((f) => f.file));
  const applied = new Set(history.map((h) => h.version));
  const states = new Map<string, MigrationState>();
  for (const f of files)
    states.set(
      f.version,
      applied.has(f.version) ? (edited.has(f.fileName) ? 'edited' : 'applied') : 'pending',
    );
  for (const h of history) if (!states.has(h.version)) states.set(h.version, 'missing-file');
  return states;
}

function databaseStatus(target: DatabaseTarget, states: ReadonlyMap<string, MigrationState>): DatabaseStatus {
  const counts: Record<MigrationState, number> = { applied: 0, pending: 0, edited: 0, 'missing-file': 0 };
  for (const s of states.values()) counts[s]++;
  return {
    target: target.label,
    url: redactUrl(target.url),
    counts,
    upToDate: counts.pending + counts.edited + counts['missing-file'] === 0,
  };
}

/** Reads the files of `migrationsDir` and each target's history (read-only, in parallel). */
export async function migrationStatus(
  migrationsDir: string,
  targets: readonly DatabaseTarget[],
): Promise<MigrationStatusReport> {
  const { files } = await readMigrations(migrationsDir);
  const histories = await Promise.all(targets.map((t) => withClient(t.url, readHistory, { label: t.label })));
  const perTarget = await Promise.all(histories.map((h) => statesOf(h, files)));
  const names = new Map<string, string | null>(files.map((f) => [f.version, f.name]));
  for (const h of histories.flat()) if (!names.has(h.version)) names.set(h.version, h.name);
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const migrations = [...names.keys()].sort().map((version) => ({
    version,
    name: names.get(version) ?? null,
    fileName: byVersion.get(version)?.fileName ?? null,
    states: Object.fromEntries(targets.map((t, i) => [t.label, perTarget[i]!.get(version) ?? null])),
  }));
  const databases = targets.map((t, i) => databaseStatus(t, perTarget[i]!));
  return { databases, migrations, upToDate: databases.every((d) => d.upToDate) };
}
