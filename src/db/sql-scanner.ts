/**
 * psql's statement splitter, line by line: finds where each SQL statement of a script ends without
 * parsing SQL, following the lexical rules of psql's own scanner (src/fe_utils/psqlscan.l):
 * - `'…'` strings (`''` escapes a quote; backslashes are literal: standard_conforming_strings = on,
 *   the default since 9.1 and what pg_dump sets), `E'…'` strings (backslash escapes), `"…"` identifiers,
 *   dollar quotes `$tag$…$tag$`, `--` comments and nested `/* … *\/` comments never end a statement;
 * - a `;` inside parentheses does not end one (CREATE RULE … DO (a; b));
 * - neither does a `;` inside the `BEGIN ATOMIC … END` body of CREATE [OR REPLACE] FUNCTION/PROCEDURE
 *   (psql's heuristic, copied exactly, so that pg_dump output of SQL-standard function bodies splits
 *   the way psql splits it);
 * - a backslash outside quotes starts a psql meta-command, which runs to the end of the line.
 * It holds one statement at a time, never the whole script.
 */

type Mode = 'normal' | 'squote' | 'equote' | 'dquote' | 'dollar' | 'block';

/** What {@link SqlScanner.scan} found in the rest of a line. */
export type ScanResult =
  /** A complete statement (text from its first token through its `;`), `line` = its first line. */
  | { readonly kind: 'statement'; readonly sql: string; readonly line: number; readonly end: number }
  /** A psql meta-command such as `\restrict key` (`name` without the backslash); the rest of the line is its argument. */
  | { readonly kind: 'meta'; readonly name: string; readonly args: string; readonly line: number }
  /** The line was consumed; the statement (if any) continues on the next line. */
  | null;

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const IDENT = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const META = /\\([A-Za-z]+|.?)/y;

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && IDENT_CHAR.test(c);
}

/** Splits a script into statements; feed it every line (without its `\n`) in order. */
export class SqlScanner {
  private mode: Mode = 'normal';
  private tag = '';
  private commentDepth = 0;
  private parens = 0;
  private begins = 0;
  /** First letters of the statement's leading CREATE/OR/REPLACE/FUNCTION/PROCEDURE words (psql's heuristic). */
  private words: string[] = [];
  private wordCount = 0;
  private parts: string[] = [];
  private startLine = 0;

  /** True while a statement has started but not ended (text at end of input is still a statement). */
  get pending(): boolean {
    return this.startLine > 0;
  }

  /** Line where an unterminated string, identifier or comment began, for end-of-input errors. */
  get openConstruct(): string | null {
    switch (this.mode) {
      case 'normal':
        return null;
      case 'squote':
      case 'equote':
        return 'quoted string';
      case 'dquote':
        return 'quoted identifier';
      case 'dollar':
        return `dollar-quoted string (${this.tag})`;
      case 'block':
        return '/* comment';
    }
  }

  /** The unterminated statement at end of input (psql runs it too), or null. */
  finish(): { sql: string; line: number } | null {
    if (!this.pending) return null;
    const sql = this.parts.join('').trimEnd();
    const line = this.startLine;
    this.reset();
    return sql ? { sql, line } : null;
  }

  /**
   * Scans `line` from index `pos` up to the end of the first statement or meta-command.
   * Call again with `end` after a statement; on null, go on with the next line.
   */
  scan(line: string, lineNo: number, pos = 0): ScanResult {
    // Index in `line` from which the text belongs to the pending statement.
    let from = this.pending ? pos : -1;
    const start = (i: number): void => {
      if (from < 0) {
        from = i;
        this.startLine = lineNo;
      }
    };
    let i = pos;
    const n = line.length;
    while (i < n) {
      if (this.mode !== 'normal') {
        i = this.skipQuoted(line, i);
        continue;
      }
      const c = line[i]!;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        i++;
      } else if (c === '-' && line[i + 1] === '-') {
        i = n;
      } else if (c === '/' && line[i + 1] === '*') {
        this.mode = 'block';
        this.commentDepth = 1;
        i += 2;
      } else if (c === '\\') {
        // A meta-command ends the line; a statement in progress continues after it (as in psql).
        META.lastIndex = i;
        const m = META.exec(line)!;
        const text = from >= 0 ? line.slice(from, i) : '';
        if (text) this.parts.push(text);
        if (this.pending) this.parts.push('\n');
        return { kind: 'meta', name: m[1]!, args: line.slice(i + m[0].length).trim(), line: lineNo };
      } else if (c === "'") {
        start(i);
        const e = (line[i - 1] === 'E' || line[i - 1] === 'e') && !isIdentChar(line[i - 2]);
        this.mode = e ? 'equote' : 'squote';
        i++;
      } else if (c === '"') {
        start(i);
        this.mode = 'dquote';
        i++;
      } else if (
        c === '$' &&
        !isIdentChar(line[i - 1]) &&
        ((DOLLAR_TAG.lastIndex = i), DOLLAR_TAG.test(line))
      ) {
        start(i);
        this.tag = line.slice(i, DOLLAR_TAG.lastIndex);
        this.mode = 'dollar';
        i = DOLLAR_TAG.lastIndex;
      } else if (c === ';' && this.parens === 0 && this.begins === 0) {
        start(i);
        this.parts.push(line.slice(from, i + 1));
        const sql = this.parts.join('');
        const startLine = this.startLine;
        this.reset();
        return { kind: 'statement', sql, line: startLine, end: i + 1 };
      } else {
        start(i);
        if (c === '(') this.parens++;
        else if (c === ')') this.parens = Math.max(0, this.parens - 1);
        IDENT.lastIndex = i;
        if (IDENT.test(line)) {
          this.word(line.slice(i, IDENT.lastIndex));
          i = IDENT.lastIndex;
        } else i++;
      }
    }
    if (from >= 0) this.parts.push(line.slice(from), '\n');
    return null;
  }

  /** Moves past quoted text or a comment in the current mode (which is not 'normal'); returns the new index. */
  private skipQuoted(line: string, i: number): number {
    const n = line.length;
    switch (this.mode) {
      case 'squote':
      case 'dquote': {
        const q = this.mode === 'squote' ? "'" : '"';
        const j = line.indexOf(q, i);
        if (j < 0) i = n;
        else if (line[j + 1] === q) i = j + 2;
        else {
          this.mode = 'normal';
          i = j + 1;
        }
        return i;
      }
      case 'equote': {
        const c = line[i];
        if (c === '\\') i += 2;
        else if (c === "'" && line[i + 1] === "'") i += 2;
        else if (c === "'") {
          this.mode = 'normal';
          i++;
        } else i++;
        return i;
      }
      case 'dollar': {
        const j = line.indexOf(this.tag, i);
        if (j < 0) i = n;
        else {
          this.mode = 'normal';
          i = j + this.tag.length;
        }
        return i;
      }
      case 'block': {
        const open = line.indexOf('/*', i);
        const close = line.indexOf('*/', i);
        if (close < 0 && open < 0) i = n;
        else if (open >= 0 && (close < 0 || open < close)) {
          this.commentDepth++;
          i = open + 2;
        } else {
          i = close + 2;
          if (--this.commentDepth === 0) this.mode = 'normal';
        }
        return i;
      }
      case 'normal':
        return i;
    }
  }

  /** psql's BEGIN … END tracking for SQL-standard function bodies (psqlscan.l, `{identifier}` rule). */
  private word(w: string): void {
    const lower = w.toLowerCase();
    if (this.wordCount < 4 && ['create', 'function', 'procedure', 'or', 'replace'].includes(lower)) {
      this.words[this.wordCount] = lower[0]!;
    }
    this.wordCount++;
    const [a, b, c, d] = this.words;
    const inRoutine =
      a === 'c' && (b === 'f' || b === 'p' || (b === 'o' && c === 'r' && (d === 'f' || d === 'p')));
    if (!inRoutine || this.parens !== 0) return;
    if (lower === 'begin') this.begins++;
    else if (lower === 'case' && this.begins >= 1) this.begins++;
    else if (lower === 'end' && this.begins > 0) this.begins--;
  }

  private reset(): void {
    this.parts = [];
    this.startLine = 0;
    this.parens = 0;
    this.begins = 0;
    this.words = [];
    this.wordCount = 0;
  }
}
