/**
 * The lint pass of `crm-env migrate validate`: parses a migration file with the real PostgreSQL parser
 * (libpg-query, WASM) and reports statements that lock or rewrite live tables, break deployed code, or expose
 * tables without RLS. Pure: no database, no I/O. The rules themselves live in ./lint-rules.ts.
 */
import { OperationError } from '../errors.js';
import { hasSqlDetails, loadModule, parseSync, scanSync, type Node } from 'libpg-query';
import {
  checkOutsideTransaction,
  checkStatement,
  hit,
  RULES,
  TableTracker,
  type ColumnTypes,
  type KnownSchema,
  type RuleHit,
} from './lint-rules.js';

/** One rule violation in a migration file. */
export interface LintFinding {
  /** The path given in. */
  readonly file: string;
  /** 1-based line where the statement's first token is (leading whitespace/comments skipped). */
  readonly line: number;
  /** Kebab-case rule name, e.g. 'adding-field-with-volatile-default'. */
  readonly rule: string;
  readonly severity: 'error' | 'warning';
  /** One sentence: what is wrong. */
  readonly message: string;
  /** One line: how to do it safely. */
  readonly fix: string;
}

/** One top-level statement of a migration file. */
export interface ParsedStatement {
  /** The statement's text, from its first token up to (not including) its semicolon. */
  readonly sql: string;
  /** 1-based line of its first token. */
  readonly line: number;
  /** libpg-query's parse tree for it (a `Node` such as `{ AlterTableStmt: {...} }`). */
  readonly ast: unknown;
}

/** A migration file PostgreSQL cannot parse; the message reads `<file>:<line>: <parser message>`. */
export class MigrationParseError extends OperationError {
  readonly file: string;
  readonly line: number;

  constructor(file: string, line: number, detail: string, options?: { cause?: unknown }) {
    super(`${file}:${line}: ${detail}`, options);
    this.file = file;
    this.line = line;
  }
}

/** Marker of an inline suppression: `-- crm-env-lint-disable-next-statement <rule>[, <rule>]: <reason>`. */
const DIRECTIVE =
  /^crm-env-lint-disable-next-statement(?:\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*))?\s*(?::([\s\S]*))?$/;
const DIRECTIVE_MARKER = 'crm-env-lint-disable-next-statement';

interface Statement extends ParsedStatement {
  readonly ast: Node;
}

interface Directive {
  readonly line: number;
  readonly rules: readonly string[];
  readonly reason: string;
}

interface Analysis {
  readonly statements: readonly Statement[];
  readonly directives: readonly Directive[];
  /** Lines holding only comments (and whitespace): a suppression block above a statement spans these. */
  readonly commentOnlyLines: ReadonlySet<number>;
}

let parserReady: Promise<void> | undefined;

/** Loads the WASM module once; the sync API is then used so concurrent calls cannot interleave inside it. */
function ensureParser(): Promise<void> {
  parserReady ??= loadModule().catch((error: unknown) => {
    parserReady = undefined; // let a later call retry
    throw error;
  });
  return parserReady;
}

/**
 * Parse a whole migration file with the real PostgreSQL parser; throws MigrationParseError (with file, line,
 * message) on a syntax error.
 */
export async function parseMigration(file: string, sql: string): Promise<ParsedStatement[]> {
  const { statements } = await analyse(file, sql);
  return statements.map(({ sql: text, line, ast }) => ({ sql: text, line, ast }));
}

/**
 * Lint one migration file. `existingTables` = set of 'schema.table' names that existed before this file (tables
 * created in EARLIER migration files, or present on the target), used by rules that only matter for existing
 * (possibly big) tables; `existingColumns` = their column types where known (for lossy type changes).
 * Findings come sorted by line; suppressed ones are left out.
 *
 * A finding is suppressed by `-- crm-env-lint-disable-next-statement <rule>[, <rule>]: <reason>` (or the same in
 * a block comment) on the statement's first line or in the comment lines directly above it (no blank line in
 * between). Without a reason the suppression is ignored and reported; one that suppresses nothing is reported
 * as unused.
 */
export async function lintMigration(
  file: string,
  sql: string,
  existingTables: ReadonlySet<string>,
  existingColumns?: ColumnTypes,
): Promise<LintFinding[]> {
  const { statements, directives, commentOnlyLines } = await analyse(file, sql);
  const tables = new TableTracker(existingTables, existingColumns);
  const hits = statements.map((s, index) => checkStatement(s.ast, index, tables));
  for (const [table, index] of tables.missingRls()) hits[index]?.push(hit('table-without-rls', table));
  for (const [index, found] of checkOutsideTransaction(statements.map((s) => s.ast)))
    hits[index]?.push(...found);

  const attached = attachDirectives(statements, directives, commentOnlyLines);
  const used = new Set<string>(); // `${directive index}:${rule}`
  const findings: LintFinding[] = [];
  const report = (line: number, { rule, message, fix }: RuleHit): void => {
    findings.push({ file, line, rule, severity: RULES[rule][0], message, fix });
  };

  statements.forEach((statement, index) => {
    for (const found of hits[index] ?? []) {
      const by = directives.findIndex(
        (d, di) => attached.get(di) === index && d.reason !== '' && d.rules.includes(found.rule),
      );
      if (by >= 0) used.add(`${by}:${found.rule}`);
      else report(statement.line, found);
    }
  });

  directives.forEach((d, di) => {
    if (d.reason === '') {
      // A reasonless suppression suppresses nothing: the reason is what a reviewer signs off on.
      const what = d.rules.length > 0 ? `of ${d.rules.join(', ')}` : 'comment names no rule and';
      report(d.line, hit('suppression-without-reason', what));
      return;
    }
    for (const rule of d.rules.filter((r) => !used.has(`${di}:${r}`))) {
      const why = !(rule in RULES)
        ? `${rule} is not a crm-env lint rule`
        : attached.has(di)
          ? `it matches no ${rule} finding on the statement it precedes`
          : 'it is not directly above (or on the first line of) a statement';
      report(d.line, hit('unused-suppression', rule, why));
    }
  });

  return findings.sort((a, b) => a.line - b.line); // stable: statement order within a line
}

/**
 * The set of 'schema.table' names that exist after applying this file on top of `existingTables` (created
 * tables added, dropped ones removed, renames applied): fold it over the files to get each file's input.
 */
export async function tablesAfterMigration(
  file: string,
  sql: string,
  existingTables: ReadonlySet<string>,
): Promise<Set<string>> {
  return new Set(
    (await schemaAfterMigration(file, sql, { tables: existingTables, columns: new Map() })).tables,
  );
}

/** Like {@link tablesAfterMigration}, with the column types the file leaves behind too. */
export async function schemaAfterMigration(
  file: string,
  sql: string,
  before: KnownSchema,
): Promise<KnownSchema> {
  const { statements } = await analyse(file, sql);
  const tables = new TableTracker(before.tables, before.columns, before.children);
  statements.forEach((s, index) => checkStatement(s.ast, index, tables));
  return tables.schema();
}

/**
 * Assigns each directive to the statement whose first line it is on, or whose first line follows the
 * unbroken block of comment-only lines it is in. Returns directive index → statement index.
 */
function attachDirectives(
  statements: readonly Statement[],
  directives: readonly Directive[],
  commentOnlyLines: ReadonlySet<number>,
): Map<number, number> {
  const attached = new Map<number, number>();
  statements.forEach((statement, index) => {
    let top = statement.line;
    while (commentOnlyLines.has(top - 1)) top -= 1;
    directives.forEach((d, di) => {
      if (!attached.has(di) && d.line >= top && d.line <= statement.line) attached.set(di, index);
    });
  });
  return attached;
}

async function analyse(file: string, sql: string): Promise<Analysis> {
  await ensureParser();
  if (sql.trim() === '') return { statements: [], directives: [], commentOnlyLines: new Set() }; // parser rejects ''
  let rawStatements;
  let tokens;
  try {
    rawStatements = parseSync(sql).stmts ?? [];
    tokens = scanSync(sql).tokens;
  } catch (error) {
    throw parseError(file, sql, error);
  }

  // libpg-query reports statement and token positions as UTF-8 byte offsets, so all slicing happens on bytes.
  const bytes = Buffer.from(sql, 'utf8');
  const lineStarts = [0];
  bytes.forEach((b, i) => {
    if (b === 0x0a) lineStarts.push(i + 1);
  });
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  const isComment = (t: { tokenName: string }): boolean =>
    t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT';
  const codeLines = new Set<number>();
  const commentLines = new Set<number>();
  const directives: Directive[] = [];
  for (const t of tokens) {
    const [first, last] = [lineOf(t.start), lineOf(Math.max(t.start, t.end - 1))];
    for (let line = first; line <= last; line += 1) (isComment(t) ? commentLines : codeLines).add(line);
    if (isComment(t)) {
      const directive = parseDirective(bytes.subarray(t.start, t.end).toString('utf8'), first);
      if (directive) directives.push(directive);
    }
  }

  // The statement runs from its first token to its last one before the span's end, minus the semicolon.
  const code = tokens.filter((t) => !isComment(t) && !(t.end - t.start === 1 && bytes[t.start] === 0x3b));
  let cursor = 0;
  const statements = rawStatements.map((raw): Statement => {
    const spanStart = raw.stmt_location ?? 0;
    const spanEnd = raw.stmt_len ? spanStart + raw.stmt_len : bytes.length; // 0/absent: to end of input
    while (cursor < code.length && (code[cursor]?.start ?? 0) < spanStart) cursor += 1;
    const start = code[cursor]?.start ?? spanStart;
    let end = start;
    while (cursor < code.length && (code[cursor]?.start ?? 0) < spanEnd) end = code[cursor++]?.end ?? end;
    return {
      sql: bytes.subarray(start, end).toString('utf8'),
      line: lineOf(start),
      ast: raw.stmt ?? ({} as Node),
    };
  });

  const commentOnlyLines = new Set([...commentLines].filter((line) => !codeLines.has(line)));
  return { statements, directives, commentOnlyLines };
}

function parseDirective(comment: string, line: number): Directive | undefined {
  const body = (comment.startsWith('--') ? comment.slice(2) : comment.slice(2, -2)).trim();
  if (!body.startsWith(DIRECTIVE_MARKER)) return undefined;
  const match = DIRECTIVE.exec(body);
  return {
    line,
    rules: match?.[1]?.split(',').map((r) => r.trim()) ?? [],
    // A malformed directive (no `rule: reason` shape) counts as reasonless, so it gets reported.
    reason: match?.[1] === undefined ? '' : (match[2]?.trim() ?? ''),
  };
}

/** Converts the parser's error into a MigrationParseError pointing at the offending line. */
function parseError(file: string, sql: string, error: unknown): MigrationParseError {
  const detail = error instanceof Error ? error.message : String(error);
  const cursor = hasSqlDetails(error) ? error.sqlDetails?.cursorPosition : undefined;
  if (cursor === undefined) return new MigrationParseError(file, 1, detail, { cause: error });
  // The cursor is a 0-based index in Unicode code points (not bytes, not UTF-16 units). "At end of input"
  // points past the text, so clamp it to the last non-blank character.
  const codePoints = [...sql.trimEnd()];
  const upTo = codePoints.slice(0, Math.max(0, Math.min(cursor, codePoints.length - 1)));
  const line = 1 + upTo.filter((ch) => ch === '\n').length;
  return new MigrationParseError(file, line, detail, { cause: error });
}
