/**
 * Encoder for PostgreSQL's COPY text format (`COPY t (cols) FROM STDIN`, the default format), so that
 * rows built in JavaScript can be streamed with pg-copy-streams without going through INSERTs.
 *
 * Format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): one line per row,
 * columns separated by a tab, `\N` for NULL, and inside a value backslash, tab, newline and carriage
 * return written as `\\`, `\t`, `\n`, `\r`. Values are written in the type's text input syntax, so
 * arrays become array literals (`{a,"b c"}`) that are then COPY-escaped as a whole.
 */

/** COPY's NULL marker in text format. */
export const COPY_NULL = '\\N';

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_GLOBAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

// array_out quotes an element when it is empty, spells NULL, or holds a delimiter, brace, quote,
// backslash or whitespace (array_isspace: space, \t, \n, \r, \v, \f); we follow the same rule.
const ARRAY_NEEDS_QUOTES = /[{}",\\\s]/;

/**
 * Escapes a value's text representation for COPY text format. Exported for callers that build
 * lines themselves; {@link encodeCopyRow} already applies it.
 */
export function escapeCopyText(text: string): string {
  // Most values have nothing to escape; the test is much cheaper than a replace.
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIAL_GLOBAL, (c) => COPY_ESCAPES[c] ?? c) : text;
}

function isJsonType(columnType: string | undefined): boolean {
  if (columnType === undefined) return false;
  const t = columnType.trim().toLowerCase();
  return t === 'json' || t === 'jsonb';
}

/** Element type of an array type name (`text[]`, `_text`), or undefined when it is not one. */
function arrayElementType(columnType: string | undefined): string | undefined {
  if (columnType === undefined) return undefined;
  const t = columnType.trim().toLowerCase();
  if (t.endsWith('[]')) return t.slice(0, -2);
  if (t.startsWith('_')) return t.slice(1);
  return undefined;
}

// The last date written: rows often repeat one (created_at = updated_at), and toISOString is slow.
let lastDate = { ms: NaN, text: '' };

function dateText(value: Date): string {
  const ms = value.getTime();
  if (ms === lastDate.ms) return lastDate.text;
  // toISOString throws a RangeError on an invalid Date with an unhelpful message.
  if (Number.isNaN(ms)) throw new TypeError('Cannot encode an invalid Date for COPY');
  lastDate = { ms, text: value.toISOString() };
  return lastDate.text;
}

function numberText(value: number): string {
  // NaN and ±Infinity are valid input for float and numeric columns; Postgres spells them this way.
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return String(value);
}

function byteaText(value: Uint8Array): string {
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

/** The value in its type's text input syntax (before COPY escaping); never called with null. */
function valueText(value: unknown, columnType: string | undefined): string {
  if (isJsonType(columnType)) {
    // A string for a json column is taken as JSON text already (as node-postgres does).
    if (typeof value === 'string') return value;
    return JSON.stringify(value);
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return numberText(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 't' : 'f';
    case 'object': {
      if (value instanceof Date) return dateText(value);
      if (Array.isArray(value)) return arrayLiteral(value, arrayElementType(columnType));
      if (value instanceof Uint8Array) return byteaText(value);
      return JSON.stringify(value);
    }
    default:
      throw new TypeError(`Cannot encode a value of type ${typeof value} for COPY`);
  }
}

function arrayElementText(element: unknown, elementType: string | undefined): string {
  if (element === null || element === undefined) return 'NULL';
  if (Array.isArray(element) && !isJsonType(elementType)) return arrayLiteral(element, elementType);
  const text = valueText(element, elementType);
  if (text !== '' && !ARRAY_NEEDS_QUOTES.test(text) && text.toUpperCase() !== 'NULL') return text;
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * A JavaScript array as a Postgres array literal (`{1,2}`, `{"a b",NULL}`); nested arrays become
 * multi-dimensional literals. `elementType` ('jsonb' for a `jsonb[]` column) decides how object
 * elements are written.
 */
export function arrayLiteral(values: readonly unknown[], elementType?: string): string {
  return `{${values.map((v) => arrayElementText(v, elementType)).join(',')}}`;
}

/**
 * A value in its column type's text input syntax: what a COPY text field carries before escaping,
 * and what a SQL string literal for the column holds (seed export writes it so). Null for
 * null/undefined. See {@link encodeCopyRow} for the value mapping.
 */
export function textInputForm(value: unknown, columnType?: string): string | null {
  if (value === null || value === undefined) return null;
  const text = valueText(value, columnType);
  // Postgres text cannot hold NUL; failing here names the problem instead of a server-side
  // "invalid byte sequence" error in the middle of a COPY.
  if (text.includes('\0')) throw new TypeError('Cannot encode a value containing a NUL character for COPY');
  return text;
}

/**
 * One COPY field: `\N` for null/undefined, otherwise the value's text form, COPY-escaped.
 * See {@link encodeCopyRow} for the value mapping.
 */
export function encodeCopyField(value: unknown, columnType?: string): string {
  const text = textInputForm(value, columnType);
  return text === null ? COPY_NULL : escapeCopyText(text);
}

/**
 * One row in COPY text format: fields separated by tabs, terminated by `\n`.
 *
 * Value mapping: `null`/`undefined` → `\N`; strings as-is; numbers and bigints in decimal (`NaN`,
 * `Infinity`); booleans `t`/`f`; `Date` → `toISOString()` (UTC; an invalid Date throws);
 * `Uint8Array`/`Buffer` → bytea hex (`\x…`); arrays → Postgres array literals, elements quoted
 * when needed; other objects → JSON.
 *
 * `columnTypes[i]` (Postgres type names such as `jsonb`, `text[]`, `bigint`) disambiguates: for a
 * `json`/`jsonb` column any non-string value, arrays included, is JSON-encoded and a string is
 * taken as JSON text already; for `jsonb[]` the elements are JSON-encoded. Without a hint, a JS array
 * is an array literal, so pass the types whenever a json column may receive an array.
 */
export function encodeCopyRow(values: readonly unknown[], columnTypes?: readonly string[]): string {
  if (columnTypes !== undefined && columnTypes.length !== values.length) {
    throw new RangeError(`encodeCopyRow: ${values.length} values but ${columnTypes.length} column types`);
  }
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += encodeCopyField(values[i], columnTypes?.[i]);
  }
  return `${line}\n`;
}

/** One row given as an object, as a COPY text line with the fields in the order of `columns`. */
function encodeCopyObject(
  row: Readonly<Record<string, unknown>>,
  columns: readonly string[],
  columnTypes: readonly string[] | undefined,
): string {
  let line = '';
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) line += '\t';
    line += encodeCopyField(row[columns[i] as string], columnTypes?.[i]);
  }
  return `${line}\n`;
}

function checkColumnTypes(caller: string, columns: readonly string[], columnTypes?: readonly string[]): void {
  if (columnTypes !== undefined && columnTypes.length !== columns.length) {
    throw new RangeError(`${caller}: ${columns.length} columns but ${columnTypes.length} column types`);
  }
}

/**
 * Many rows, given as objects, in COPY text format (the concatenated lines), with the fields in
 * the order of `columns` — the column list of the `COPY t (columns) FROM STDIN` statement.
 * A key missing from a row is written as NULL (not the column default).
 */
export function encodeCopyRows(
  rows: readonly Readonly<Record<string, unknown>>[],
  columns: readonly string[],
  columnTypes?: readonly string[],
): string {
  checkColumnTypes('encodeCopyRows', columns, columnTypes);
  return rows.map((row) => encodeCopyObject(row, columns, columnTypes)).join('');
}

/**
 * {@link encodeCopyRows} for rows that are produced while they are read (a generator): the same
 * text, in chunks of about `chunkChars` characters, each encoded only when the consumer asks for
 * it, so a stream fed from it holds one chunk at a time.
 */
export function* encodeCopyChunks(
  rows: Iterable<Readonly<Record<string, unknown>>>,
  columns: readonly string[],
  columnTypes?: readonly string[],
  chunkChars = 64 * 1024,
): Generator<string> {
  checkColumnTypes('encodeCopyChunks', columns, columnTypes);
  let chunk = '';
  for (const row of rows) {
    chunk += encodeCopyObject(row, columns, columnTypes);
    if (chunk.length >= chunkChars) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}
