/**
 * The static half of validation, ONE code path for `migrate validate` and `migrate deploy`
 * ({@link runStaticChecks}): file names, duplicate versions, parsing with the real PostgreSQL parser,
 * transaction hazards, the lint pass, and migrations edited after they were applied. The only database access
 * is {@link readTargetFacts} (catalog and history, read-only); everything else works on what it read.
 */
import { readdir } from 'node:fs/promises';
import type { Node } from 'libpg-query';
import { loadModule, scanSync } from 'libpg-query';
import { listTables } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import type { MigrationFile } from './files.js';
import { MIGRATION_FILE, STRICT_MIGRATION_FILE } from './files.js';
import type { HistoryRow } from './history.js';
import { planMigrations, readHistory } from './history.js';
import type { LintFinding, ParsedStatement } from './lint.js';
import { CrmEnvError } from '../errors.js';
import { redactText } from '../redact.js';
import type { ColumnType } from './column-types.js';
import { typeFromCatalog } from './column-types.js';
import { lintMigration, MigrationParseError, parseMigration, schemaAfterMigration } from './lint.js';
import type { KnownSchema } from './lint-rules.js';
import { outsideTransactionStatements } from './outside-transaction.js';

/** A finding of any check; the lint's shape, with crm-env's own rule names for the non-lint checks. */
export type Finding = LintFinding;

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

/**
 * Transaction hazards of one parsed file. BEGIN/COMMIT/ROLLBACK are errors: inside the deploy's single
 * transaction a COMMIT would commit the files before it and run the rest without a safety net (the Supabase
 * CLI has the same hole, supabase/cli#5047). A statement that must run outside a transaction makes the whole
 * file run on its own, statement by statement: correct when the file holds only such statements, a warning
 * when it mixes in others (the lint's concurrently-in-transaction says so for the CONCURRENTLY ones).
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
  const outside = outsideTransactionStatements(statements);
  if (outside.length === statements.length) return out; // alone in its file: the correct shape
  for (const s of outside) {
    if (s.what.includes('CONCURRENTLY')) continue; // the lint's concurrently-in-transaction says it already
    out.push(
      finding(
        file,
        s.line,
        'outside-transaction',
        'warning',
        `${s.what} cannot run inside a transaction, so this file is applied on its own, statement by statement, and its other statements lose the all-or-nothing guarantee.`,
        'Move it alone into its own migration file and make it safe to re-run.',
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
 * The lint pass over `files` in order, chaining the tables (and column types) each file leaves behind into
 * the next one's input. `target` (the target's public tables and columns) seeds the files in `seeded` only:
 * those are the pending ones, which really run against the target's tables; files already applied are linted
 * as from an empty database, since their tables are in the target only because of them. Files that failed to
 * parse are skipped.
 */
export async function lintFiles(
  files: readonly MigrationFile[],
  parsedOk: ReadonlySet<string>,
  target: KnownSchema = { tables: new Set(), columns: new Map() },
  seeded: (f: MigrationFile) => boolean = () => true,
): Promise<Finding[]> {
  let chain: KnownSchema = { tables: new Set(), columns: new Map() };
  const out: Finding[] = [];
  for (const f of files) {
    if (!parsedOk.has(f.fileName)) continue;
    const input = seeded(f)
      ? {
          tables: new Set([...target.tables, ...chain.tables]),
          columns: new Map([...target.columns, ...chain.columns]),
        }
      : chain;
    out.push(...(await lintMigration(f.fileName, f.sql, input.tables, input.columns)));
    chain = await schemaAfterMigration(f.fileName, f.sql, chain);
  }
  return out;
}

/**
 * The target's public tables as 'public.name' with their column types, to seed the lint of pending files
 * (catalog only: no table locks).
 */
export async function readTargetSchema(client: Client): Promise<KnownSchema> {
  const tables = await listTables(client, 'public', { partitions: true });
  const { rows } = await client.query<{ table: string; column: string; type: string }>(
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
        and a.attnum > 0 and not a.attisdropped`,
  );
  const columns = new Map<string, Map<string, ColumnType>>();
  for (const r of rows) {
    const name = `public.${r.table}`;
    columns.set(name, (columns.get(name) ?? new Map()).set(r.column, typeFromCatalog(r.type)));
  }
  return { tables: new Set(tables.map((t) => `public.${t.name}`)), columns };
}

/** What the static checks know about a target database: its history and its public schema. */
export interface TargetFacts {
  readonly history: readonly HistoryRow[];
  readonly schema: KnownSchema;
}

/** Reads {@link TargetFacts} (catalog and history table only: read-only, no table locks). */
export async function readTargetFacts(client: Client): Promise<TargetFacts> {
  return { history: await readHistory(client), schema: await readTargetSchema(client) };
}

export interface StaticCheckResult {
  readonly findings: readonly Finding[];
  /** Files the parser accepted. */
  readonly parsedOk: ReadonlySet<string>;
  /** With a target: the versions it has applied, and the files pending there (in file order). */
  readonly applied?: ReadonlySet<string>;
  readonly pending?: readonly MigrationFile[];
}

/** The target's pending files, or a history-mismatch finding (and every unapplied file) when its history breaks the rules. */
function pendingOn(
  history: readonly HistoryRow[],
  files: readonly MigrationFile[],
  includeAll: boolean,
): { pending: readonly MigrationFile[]; findings: Finding[] } {
  try {
    return { pending: planMigrations(history, files, includeAll).pending, findings: [] };
  } catch (err) {
    if (!(err instanceof CrmEnvError)) throw err;
    const applied = new Set(history.map((h) => h.version));
    const message = redactText(err.message);
    return {
      pending: files.filter((f) => !applied.has(f.version)),
      findings: [finding('', 0, 'history-mismatch', 'error', message, 'See the message.')],
    };
  }
}

/**
 * The static checks, ONE code path for `migrate validate` and `migrate deploy` (deploy refuses exactly what
 * validate refuses): file names, duplicate versions, parsing and transaction hazards, then — with a target —
 * files edited after they were applied and the Supabase CLI's pending-order rules, then the lint of every
 * file (the pending ones seeded with the target's tables and column types).
 */
export async function runStaticChecks(
  dir: string,
  files: readonly MigrationFile[],
  target?: TargetFacts,
  options: { readonly includeAll?: boolean } = {},
): Promise<StaticCheckResult> {
  const findings: Finding[] = [...(await checkFileNames(dir)), ...checkDuplicateVersions(files)];
  const { parsed, findings: parseFindings } = await parseFiles(files);
  findings.push(...parseFindings);
  const parsedOk = new Set(parsed.keys());
  if (!target) return { findings: [...findings, ...(await lintFiles(files, parsedOk))], parsedOk };

  findings.push(...(await checkChangedAfterApply(target.history, files)));
  const { pending, findings: order } = pendingOn(target.history, files, options.includeAll ?? false);
  findings.push(...order);
  const applied = new Set(target.history.map((h) => h.version));
  findings.push(...(await lintFiles(files, parsedOk, target.schema, (f) => !applied.has(f.version))));
  return { findings, parsedOk, applied, pending };
}

/** One line for a finding: `file:line [rule] message`. */
export function formatFinding(f: Finding): string {
  return `${f.file ? `${f.file}:${f.line} ` : ''}[${f.rule}] ${f.message}`;
}
