/**
 * The static half of validation, shared by `migrate validate` and `migrate deploy`: file names, duplicate
 * versions, parsing with the real PostgreSQL parser, transaction hazards, the lint pass, and migrations edited
 * after they were applied. The only database access is {@link targetPublicTables}; everything else works
 * on what callers read from the target.
 */
import { readdir } from 'node:fs/promises';
import type { Node } from 'libpg-query';
import { loadModule, scanSync } from 'libpg-query';
import { listTables } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import type { MigrationFile } from './files.js';
import { MIGRATION_FILE, STRICT_MIGRATION_FILE } from './files.js';
import type { HistoryRow } from './history.js';
import type { LintFinding, ParsedStatement } from './lint.js';
import { lintMigration, MigrationParseError, parseMigration, tablesAfterMigration } from './lint.js';

/** A finding of any check; the lint's shape, with crm-env's own rule names for the non-lint checks. */
export type Finding = LintFinding;

/** A statement PostgreSQL refuses inside a transaction block, found in a migration file. */
export interface OutsideStatement {
  readonly line: number;
  /** What it is, e.g. 'CREATE INDEX CONCURRENTLY'. */
  readonly what: string;
}

function finding(
  file: string,
  line: number,
  rule: string,
  severity: Finding['severity'],
  message: string,
  fix: string,
): Finding {
  return { file, line, rule, severity, message, fix };
}

/**
 * Names in the migrations folder that break the convention. A `.sql` file that is not
 * `<14 digits>_<snake_case>.sql` is an error: the Supabase CLI would skip it silently or order it
 * unexpectedly. Other files are a warning (neither tool reads them); dotfiles (.gitkeep) are ignored.
 */
export async function checkFileNames(dir: string): Promise<Finding[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Finding[] = [];
  for (const name of names) {
    if (name.startsWith('.') || STRICT_MIGRATION_FILE.test(name)) continue;
    if (name.endsWith('.sql')) {
      const applied = MIGRATION_FILE.test(name)
        ? 'the Supabase CLI still applies it, in name order'
        : 'the Supabase CLI skips it';
      out.push(
        finding(
          name,
          1,
          'file-name',
          'error',
          `File name ${name} is not <14-digit timestamp>_<snake_case_name>.sql (${applied}).`,
          'Rename it, e.g. 20251016093000_add_contact_tags.sql (UTC timestamp of when it was written).',
        ),
      );
    } else {
      out.push(
        finding(
          name,
          1,
          'file-name',
          'warning',
          `${name} is not a migration file; no tool applies it.`,
          'Move it out of supabase/migrations.',
        ),
      );
    }
  }
  return out;
}

/** Two files with the same version: the history keeps one row per version, so one of them would be lost. */
export function checkDuplicateVersions(files: readonly MigrationFile[]): Finding[] {
  const byVersion = new Map<string, string[]>();
  for (const f of files) byVersion.set(f.version, [...(byVersion.get(f.version) ?? []), f.fileName]);
  return [...byVersion.values()]
    .filter((names) => names.length > 1)
    .flatMap(([first, ...rest]) =>
      rest.map((name) =>
        finding(
          name,
          1,
          'duplicate-version',
          'error',
          `${name} has the same version as ${first}; only one of them can be recorded as applied.`,
          'Give one of them a new, later timestamp.',
        ),
      ),
    );
}

const TX_CONTROL: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

const hasOption = (params: Node[] | undefined, name: string): boolean =>
  (params ?? []).some((p) => 'DefElem' in p && p.DefElem.defname === name);

/** What a statement is when PostgreSQL refuses to run it inside a transaction block, else undefined. */
export function outsideTransactionKind(node: Node): string | undefined {
  if ('IndexStmt' in node && node.IndexStmt.concurrent) return 'CREATE INDEX CONCURRENTLY';
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_INDEX' && node.DropStmt.concurrent)
    return 'DROP INDEX CONCURRENTLY';
  if ('ReindexStmt' in node) {
    const { kind, params } = node.ReindexStmt;
    if (hasOption(params, 'concurrently')) return 'REINDEX CONCURRENTLY';
    if (kind === 'REINDEX_OBJECT_SYSTEM' || kind === 'REINDEX_OBJECT_DATABASE')
      return 'REINDEX SYSTEM/DATABASE';
  }
  if ('VacuumStmt' in node && node.VacuumStmt.is_vacuumcmd) return 'VACUUM';
  if ('AlterSystemStmt' in node) return 'ALTER SYSTEM';
  if ('CreatedbStmt' in node) return 'CREATE DATABASE';
  if ('DropdbStmt' in node) return 'DROP DATABASE';
  if ('CreateTableSpaceStmt' in node) return 'CREATE TABLESPACE';
  if ('DropTableSpaceStmt' in node) return 'DROP TABLESPACE';
  if ('ClusterStmt' in node && !node.ClusterStmt.relation) return 'CLUSTER (all tables)';
  if ('AlterTableStmt' in node) {
    for (const item of node.AlterTableStmt.cmds ?? []) {
      const def = 'AlterTableCmd' in item ? item.AlterTableCmd.def : undefined;
      if (def && 'PartitionCmd' in def && def.PartitionCmd.concurrent) return 'DETACH PARTITION CONCURRENTLY';
    }
  }
  return undefined;
}

/** The statements of a file that cannot run inside a transaction; non-empty = deploy applies it on its own. */
export function outsideTransactionStatements(statements: readonly ParsedStatement[]): OutsideStatement[] {
  return statements.flatMap((s) => {
    const what = outsideTransactionKind(s.ast as Node);
    return what === undefined ? [] : [{ line: s.line, what }];
  });
}

/**
 * Transaction hazards of one parsed file. BEGIN/COMMIT/ROLLBACK are errors: inside the deploy's single
 * transaction a COMMIT would commit the files before it and run the rest without a safety net (the Supabase
 * CLI has the same hole, supabase/cli#5047). Statements that must run outside a transaction are a warning
 * (the lint already warns about the CONCURRENTLY ones, so those are not repeated).
 */
export function checkTransactionUse(file: string, statements: readonly ParsedStatement[]): Finding[] {
  const out: Finding[] = [];
  for (const s of statements) {
    const node = s.ast as Node;
    const control = 'TransactionStmt' in node ? TX_CONTROL[node.TransactionStmt.kind ?? ''] : undefined;
    if (control !== undefined) {
      out.push(
        finding(
          file,
          s.line,
          'transaction-control',
          'error',
          `${control} in a migration ends or nests the deploy's transaction, so a later failure could no longer roll everything back.`,
          'Remove it: crm-env (and the Supabase CLI) already run each deploy inside a transaction.',
        ),
      );
    }
  }
  for (const s of outsideTransactionStatements(statements)) {
    if (s.what.includes('CONCURRENTLY')) continue; // the lint's concurrently-in-transaction says it already
    out.push(
      finding(
        file,
        s.line,
        'outside-transaction',
        'warning',
        `${s.what} cannot run inside a transaction, so the deployer applies this file on its own, after the others.`,
        'Keep it alone in its own migration file and make it safe to re-run.',
      ),
    );
  }
  return out;
}

const parsedCache = new Map<string, Promise<ParsedStatement[]>>();

/**
 * parseMigration, memoised by file name and content: one deploy parses each pending file up to five times
 * (validation, dry run, apply), and on the WASM parser that adds up to a noticeable share of a deploy.
 * Bounded, and a failed parse is not kept.
 */
export function parseMigrationCached(file: MigrationFile): Promise<ParsedStatement[]> {
  const key = `${file.fileName}\u0000${file.sql}`;
  let found = parsedCache.get(key);
  if (!found) {
    if (parsedCache.size >= 256) parsedCache.clear();
    found = parseMigration(file.fileName, file.sql);
    found.catch(() => parsedCache.delete(key));
    parsedCache.set(key, found);
  }
  return found;
}

/** Parses every file; a file PostgreSQL cannot parse becomes a finding and is left out of the map. */
export async function parseFiles(
  files: readonly MigrationFile[],
): Promise<{ parsed: Map<string, ParsedStatement[]>; findings: Finding[] }> {
  const parsed = new Map<string, ParsedStatement[]>();
  const findings: Finding[] = [];
  for (const f of files) {
    try {
      const statements = await parseMigrationCached(f);
      parsed.set(f.fileName, statements);
      findings.push(...checkTransactionUse(f.fileName, statements));
    } catch (err) {
      if (!(err instanceof MigrationParseError)) throw err;
      findings.push(
        finding(
          f.fileName,
          err.line,
          'parse-error',
          'error',
          err.message,
          'Fix the SQL syntax at that line.',
        ),
      );
    }
  }
  return { parsed, findings };
}

/** The file's tokens without comments and semicolons: equal token lists = the same SQL, however laid out. */
function tokens(sql: string): string[] | undefined {
  try {
    return scanSync(sql)
      .tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT' && t.text !== ';')
      .map((t) => t.text);
  } catch {
    return undefined;
  }
}

/**
 * Applied migrations whose file changed since: the history's `statements` (written by crm-env or by the
 * Supabase CLI, which keeps the comments) compared with the file, ignoring comments and layout. A history row
 * without statements (other tools) cannot be compared and is skipped.
 */
export async function checkChangedAfterApply(
  history: readonly HistoryRow[],
  files: readonly MigrationFile[],
): Promise<Finding[]> {
  await loadModule();
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const out: Finding[] = [];
  for (const row of history) {
    const file = byVersion.get(row.version);
    if (!file || !row.statements) continue;
    // Joined with ';' so statements that the CLI stored without their semicolon still tokenise apart.
    const stored = tokens(row.statements.join('\n;\n'));
    const local = tokens(file.sql);
    const same =
      stored && local
        ? stored.join(' ') === local.join(' ')
        : row.statements.join(' ').replace(/\s+/g, ' ') === file.sql.replace(/\s+/g, ' ');
    if (!same) {
      out.push(
        finding(
          file.fileName,
          1,
          'changed-after-apply',
          'error',
          `${file.fileName} was changed after it was applied to the target (its SQL differs from the history's statements), so the change will never run there.`,
          'Restore the applied content and put the change in a new migration file.',
        ),
      );
    }
  }
  return out;
}

/**
 * The lint pass over `files` in order, chaining the tables each file leaves behind into the next one's
 * `existingTables`. `targetTables` (the target's public tables) seed the files in `seeded` only: those are the
 * pending ones, which really run against the target's tables; files already applied are linted as from an
 * empty database, since their tables are in the target only because of them. Files that failed to parse are
 * skipped.
 */
export async function lintFiles(
  files: readonly MigrationFile[],
  parsedOk: ReadonlySet<string>,
  targetTables: ReadonlySet<string> = new Set(),
  seeded: (f: MigrationFile) => boolean = () => true,
): Promise<Finding[]> {
  let chain = new Set<string>();
  const out: Finding[] = [];
  for (const f of files) {
    if (!parsedOk.has(f.fileName)) continue;
    const existing = seeded(f) ? new Set([...chain, ...targetTables]) : chain;
    out.push(...(await lintMigration(f.fileName, f.sql, existing)));
    chain = await tablesAfterMigration(f.fileName, f.sql, chain);
  }
  return out;
}

/** The target's public tables as 'public.name', to seed the lint of pending files (catalog only: no table locks). */
export async function targetPublicTables(client: Client): Promise<Set<string>> {
  const tables = await listTables(client, 'public', { partitions: true });
  return new Set(tables.map((t) => `public.${t.name}`));
}

/** One line for a finding: `file:line [rule] message`. */
export function formatFinding(f: Finding): string {
  return `${f.file ? `${f.file}:${f.line} ` : ''}[${f.rule}] ${f.message}`;
}
