/**
 * Migration files in `supabase/migrations/`, named `<version>_<name>.sql` and applied in lexicographic
 * order, exactly as the Supabase CLI reads them.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The Supabase CLI's file-name rule (`pkg/migration/file.go`). */
export const MIGRATION_FILE = /^([0-9]+)_(.*)\.sql$/;
/** The stricter rule crm-env validates: a 14-digit timestamp and a snake-case name. */
export const STRICT_MIGRATION_FILE = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  readonly version: string;
  readonly name: string;
  readonly fileName: string;
  readonly path: string;
  readonly sql: string;
}

export interface MigrationDirectory {
  readonly files: readonly MigrationFile[];
  /** Names in the folder that do not look like migrations (skipped, as the Supabase CLI does). */
  readonly skipped: readonly string[];
}

/** Reads every migration file, sorted by file name. A missing folder is an empty list. */
export async function readMigrations(dir: string): Promise<MigrationDirectory> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files: [], skipped: [] };
    throw err;
  }
  const files: MigrationFile[] = [];
  const skipped: string[] = [];
  for (const fileName of names) {
    const m = MIGRATION_FILE.exec(fileName);
    if (!m) {
      skipped.push(fileName);
      continue;
    }
    const full = path.join(dir, fileName);
    files.push({ version: m[1]!, name: m[2]!, fileName, path: full, sql: await readFile(full, 'utf8') });
  }
  return { files, skipped };
}

/** 1-based line of a character offset. */
export function lineAt(text: string, charOffset: number): number {
  let line = 1;
  for (let i = 0; i < charOffset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
