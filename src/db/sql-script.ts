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
  const scanner = new SqlScanner();
  let statements = 0;
  let copiedRows = 0;
  const fail = (line: number, reason: string, cause?: unknown): never => {
    throw new SqlScriptError(name, line, redactText(reason), cause);
  };

  const execute = async (sql: string, line: number): Promise<void> => {
    const first = sql.trimStart();
    if (TRANSACTION_CONTROL.test(first)) {
      fail(
        line,
        `transaction control (${first.split(/\s|;/, 1)[0]!.toUpperCase()}) is not allowed: the whole script runs in one transaction.`,
      );
    }
    const direction = copyDirection(first);
    if (direction === 'to-stdout') fail(line, 'COPY … TO STDOUT has no place in a restore script.');
    if (direction === 'from-stdin') {
      const dataStart = reader.lineNo; // data lines follow the line the statement ended on
      const copy = client.query(copyFrom(sql));
      try {
        await pipeline(
          copyData(reader, () => fail(dataStart, 'COPY data is not terminated by a line "\\."')),
          copy,
        );
      } catch (err) {
        if (err instanceof SqlScriptError) throw err;
        const at = /\bline (\d+)\b/.exec(pgFields(err).where ?? '');
        const dataLine = at ? dataStart + Number(at[1]) : line;
        fail(dataLine, serverMessage(err), err);
      }
      statements++;
      copiedRows += copy.rowCount;
      options.onStatement?.({ line, sql, copyRows: copy.rowCount });
      return;
    }
    try {
      await client.query(sql);
    } catch (err) {
      const pos = Number(pgFields(err).position);
      const offset = Number.isFinite(pos) && pos > 0 ? sql.slice(0, pos - 1).split('\n').length - 1 : 0;
      fail(line + offset, serverMessage(err), err);
    }
    statements++;
    options.onStatement?.({ line, sql, copyRows: null });
  };

  try {
    for (let text = await reader.next(); text !== null; text = await reader.next()) {
      const lineNo = reader.lineNo;
      let pos = 0;
      for (;;) {
        const r = scanner.scan(text, lineNo, pos);
        if (r === null) break;
        if (r.kind === 'meta') {
          if (r.name === 'restrict' || r.name === 'unrestrict') break;
          if (r.name === '.') fail(lineNo, '"\\." outside of a COPY … FROM stdin block.');
          fail(
            lineNo,
            `psql meta-command \\${r.name} is not supported (only \\restrict and \\unrestrict are, and ignored).`,
          );
        }
        if (r.kind !== 'statement') break;
        const isCopy = copyDirection(r.sql.trimStart()) === 'from-stdin';
        if (isCopy && text.slice(r.end).trim() !== '') {
          fail(lineNo, 'COPY … FROM stdin must end its line (the data starts on the next line).');
        }
        await execute(r.sql, r.line);
        if (isCopy) break;
        pos = r.end;
      }
    }
    const open = scanner.openConstruct;
    const last = scanner.finish();
    if (open !== null) fail(last?.line ?? reader.lineNo, `unterminated ${open} at end of file.`);
    if (last) await execute(last.sql, last.line);
  } finally {
    if (typeof source === 'string') reader.close();
  }
  return { statements, copiedRows };
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
