/**
 * Migration files in `supabase/migrations/`, named `<version>_<name>.sql` and applied in lexicographic
 * order, exactly as the Supabase CLI reads them.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'libpg-query';
import { OperationError } from '../errors.js';

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

export interface SqlStatement {
  /** The statement's text without the trailing semicolon, trimmed. */
  readonly sql: string;
  /** 1-based line in the file where the statement starts. */
  readonly line: number;
}

/** 1-based line of a character offset. */
export function lineAt(text: string, charOffset: number): number {
  let line = 1;
  for (let i = 0; i < charOffset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Splits SQL into statements with the real PostgreSQL parser (libpg-query). Its locations are UTF-8
 * byte offsets, so slicing happens on the encoded buffer.
 */
export async function splitStatements(fileLabel: string, sql: string): Promise<SqlStatement[]> {
  let tree: { stmts?: { stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = (await parse(sql)) as typeof tree;
  } catch (err) {
    const cursor = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
    const line = cursor === undefined ? 1 : lineAt(Buffer.from(sql).subarray(0, cursor).toString('utf8'), Infinity);
    throw new OperationError(`${fileLabel}:${line}: ${(err as Error).message}`, { cause: err });
  }
  const bytes = Buffer.from(sql, 'utf8');
  const out: SqlStatement[] = [];
  for (const s of tree.stmts ?? []) {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : bytes.length;
    const raw = bytes.subarray(start, end).toString('utf8');
    const text = stripLeadingComments(raw).trim();
    if (!text) continue;
    const lead = bytes.subarray(0, start).toString('utf8') + raw.slice(0, raw.length - raw.trimStart().length);
    out.push({ sql: text, line: lineAt(lead + leadingComments(raw.trimStart()), Infinity) });
  }
  return out;
}

const LEADING_COMMENTS = /^(?:\s*(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/))*\s*/;

function leadingComments(text: string): string {
  return LEADING_COMMENTS.exec(text)?.[0] ?? '';
}

function stripLeadingComments(text: string): string {
  return text.slice(leadingComments(text).length);
}
