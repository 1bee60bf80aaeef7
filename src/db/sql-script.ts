/**
 * Runs a plain SQL script the way `psql -v ON_ERROR_STOP=1 -f` does, on a client the caller holds:
 * statements one by one, `COPY … FROM stdin` blocks streamed through pg-copy-streams, `\restrict` /
 * `\unrestrict` (emitted by pg_dump since 17.6/16.10/15.14) ignored. It reads the script as a stream:
 * memory holds one statement or one batch of COPY lines, never the file.
 *
 * The caller owns the transaction (restore wraps the run in BEGIN … COMMIT), so statements that would
 * end or nest it (BEGIN, COMMIT, ROLLBACK, …) are refused rather than silently breaking atomicity.
 * Scripts are read as UTF-8 (the encoding node-postgres speaks); pg_dump output of a UTF8 database is.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { from as copyFrom } from 'pg-copy-streams';
import { OperationError } from '../errors.js';
import { redactText } from '../redact.js';
import type { Client } from './connect.js';
import { pgFields } from './connect.js';
import { SqlScanner } from './sql-scanner.js';

/** One statement the script ran. `copyRows` is the row count of a COPY … FROM stdin, else null. */
export interface ScriptStatement {
  readonly line: number;
  readonly sql: string;
  readonly copyRows: number | null;
}

export interface RunSqlScriptOptions {
  /** Called after each statement succeeded. */
  readonly onStatement?: (statement: ScriptStatement) => void;
  /** Name used in error messages; default: the file path, or "script" for a stream. */
  readonly name?: string;
}

export interface SqlScriptResult {
  readonly statements: number;
  readonly copiedRows: number;
}

/** A script failed at a line: a server error, an unsupported meta-command or a malformed script. */
export class SqlScriptError extends OperationError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${file}:${line}: ${reason}`, { cause });
  }
}

/** Splits a byte stream into lines on `\n` only (a `\r` inside a string literal is data, not a line break). */
export class LineReader {
  private readonly decoder = new StringDecoder('utf8');
  private readonly chunks: AsyncIterator<Buffer | string>;
  private lines: string[] = [];
  private index = 0;
  private rest = '';
  private done = false;
  /** 1-based number of the line last returned. */
  lineNo = 0;

  constructor(private readonly stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  }

  /** The next line without its `\n`, or null at end of input. */
  async next(): Promise<string | null> {
    while (this.index >= this.lines.length) {
      if (this.done) return null;
      const r = await this.chunks.next();
      let text: string;
      if (r.done) {
        this.done = true;
        text = this.rest + this.decoder.end();
        this.lines = text === '' ? [] : [text];
      } else {
        text = this.rest + (typeof r.value === 'string' ? r.value : this.decoder.write(r.value));
        this.lines = text.split('\n');
        this.rest = this.lines.pop()!;
      }
      this.index = 0;
    }
    this.lineNo++;
    const line = this.lines[this.index++]!;
    return this.lineNo === 1 && line.startsWith('\uFEFF') ? line.slice(1) : line;
  }

  close(): void {
    this.stream.destroy();
  }
}

const TRANSACTION_CONTROL =
  /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|prepare\s+transaction)\b/i;

/** Replaces quoted identifiers and strings with empty ones, so that keywords can be matched safely. */
function withoutQuotes(sql: string): string {
  return sql.replace(/"(?:[^"]|"")*"/g, '""').replace(/'(?:[^']|'')*'/g, "''");
}

/** `COPY … FROM STDIN` (data follows in the script) vs. other COPY forms. */
export function copyDirection(sql: string): 'from-stdin' | 'to-stdout' | null {
  const s = withoutQuotes(sql);
  if (!/^copy\b/i.test(s)) return null;
  if (/\bfrom\s+p?stdin\b/i.test(s)) return 'from-stdin';
  if (/\bto\s+p?stdout\b/i.test(s)) return 'to-stdout';
  return null;
}

const COPY_BATCH_CHARS = 256 * 1024;

/**
 * Runs the script at `source` (a file path or a readable stream) on `client`. The first error stops
 * it and is thrown as a {@link SqlScriptError} naming the file and line; what already ran is the
 * caller's to roll back.
 */
export async function runSqlScript(
  client: Client,
  source: string | Readable,
  options: RunSqlScriptOptions = {},
): Promise<SqlScriptResult> {
  const name = options.name ?? (typeof source === 'string' ? source : 'script');
  const reader = new LineReader(
    typeof source === 'string' ? createReadStream(source, { highWaterMark: 1 << 16 }) : source,
  );
  const run = new ScriptRun(client, reader, name, options);
  try {
    await run.all();
  } finally {
    if (typeof source === 'string') reader.close();
  }
  return { statements: run.statements, copiedRows: run.copiedRows };
}

/** One script being run: the scanner's state, the counts, and one method per kind of line. */
class ScriptRun {
  statements = 0;
  copiedRows = 0;
  private readonly scanner = new SqlScanner();

  constructor(
    private readonly client: Client,
    private readonly reader: LineReader,
    private readonly name: string,
    private readonly options: RunSqlScriptOptions,
  ) {}

  async all(): Promise<void> {
    for (let text = await this.reader.next(); text !== null; text = await this.reader.next()) {
      await this.line(text, this.reader.lineNo);
    }
    const open = this.scanner.openConstruct;
    const last = this.scanner.finish();
    if (open !== null) this.fail(last?.line ?? this.reader.lineNo, `unterminated ${open} at end of file.`);
    if (last) await this.execute(last.sql, last.line);
  }

  /** Runs every statement that ends on this line (a COPY's data follows on the next lines). */
  private async line(text: string, lineNo: number): Promise<void> {
    let pos = 0;
    for (;;) {
      const r = this.scanner.scan(text, lineNo, pos);
      if (r === null) return;
      if (r.kind === 'meta') {
        if (r.name === 'restrict' || r.name === 'unrestrict') return;
        if (r.name === '.') this.fail(lineNo, '"\\." outside of a COPY … FROM stdin block.');
        this.fail(
          lineNo,
          `psql meta-command \\${r.name} is not supported (only \\restrict and \\unrestrict are, and ignored).`,
        );
      }
      if (r.kind !== 'statement') return;
      const isCopy = copyDirection(r.sql.trimStart()) === 'from-stdin';
      if (isCopy && text.slice(r.end).trim() !== '') {
        this.fail(lineNo, 'COPY … FROM stdin must end its line (the data starts on the next line).');
      }
      await this.execute(r.sql, r.line);
      if (isCopy) return;
      pos = r.end;
    }
  }

  private async execute(sql: string, line: number): Promise<void> {
    const first = sql.trimStart();
    if (TRANSACTION_CONTROL.test(first)) {
      this.fail(
        line,
        `transaction control (${first.split(/\s|;/, 1)[0]!.toUpperCase()}) is not allowed: the whole script runs in one transaction.`,
      );
    }
    const direction = copyDirection(first);
    if (direction === 'to-stdout') this.fail(line, 'COPY … TO STDOUT has no place in a restore script.');
    if (direction === 'from-stdin') await this.copy(sql, line);
    else await this.statement(sql, line);
  }

  private async copy(sql: string, line: number): Promise<void> {
    const dataStart = this.reader.lineNo; // data lines follow the line the statement ended on
    const copy = this.client.query(copyFrom(sql));
    try {
      await pipeline(
        copyData(this.reader, () => this.fail(dataStart, 'COPY data is not terminated by a line "\\."')),
        copy,
      );
    } catch (err) {
      if (err instanceof SqlScriptError) throw err;
      const at = /\bline (\d+)\b/.exec(pgFields(err).where ?? '');
      this.fail(at ? dataStart + Number(at[1]) : line, serverMessage(err), err);
    }
    this.statements++;
    this.copiedRows += copy.rowCount;
    this.options.onStatement?.({ line, sql, copyRows: copy.rowCount });
  }

  private async statement(sql: string, line: number): Promise<void> {
    try {
      await this.client.query(sql);
    } catch (err) {
      const pos = Number(pgFields(err).position);
      const offset = Number.isFinite(pos) && pos > 0 ? sql.slice(0, pos - 1).split('\n').length - 1 : 0;
      this.fail(line + offset, serverMessage(err), err);
    }
    this.statements++;
    this.options.onStatement?.({ line, sql, copyRows: null });
  }

  private fail(line: number, reason: string, cause?: unknown): never {
    throw new SqlScriptError(this.name, line, redactText(reason), cause);
  }
}

/** The COPY data lines up to `\.`, batched into large chunks (one CopyData message per line would be slow). */
async function* copyData(reader: LineReader, unterminated: () => never): AsyncGenerator<string> {
  let batch: string[] = [];
  let size = 0;
  for (;;) {
    const line = await reader.next();
    if (line === null) unterminated();
    if (line === '\\.' || line === '\\.\r') break;
    batch.push(line, '\n');
    size += line.length + 1;
    if (size >= COPY_BATCH_CHARS) {
      yield batch.join('');
      batch = [];
      size = 0;
    }
  }
  if (size > 0) yield batch.join('');
}

function serverMessage(err: unknown): string {
  const f = pgFields(err);
  const msg = err instanceof Error ? err.message : String(err);
  return [msg, f.detail ? `(${f.detail})` : '', f.where && /^COPY /.test(f.where) ? `[${f.where}]` : '']
    .filter(Boolean)
    .join(' ');
}
