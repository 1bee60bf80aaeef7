/**
 * Several small tables read in ONE COPY (one round trip instead of one per table: on a cloud 20 ms
 * away, 200 small tables cost 4 s of waiting otherwise), written out as one `COPY … FROM stdin` block
 * per table, exactly as {@link writeCopyBlock} writes them.
 *
 * The server builds each row's COPY text line itself: every column through its type's output function
 * (`format('%s', …)`, what COPY prints), NULL as `\N`, backslash, newline, carriage return and tab
 * escaped, columns joined by tabs. The outer COPY escapes that line once more; the client undoes that
 * layer. Rows arrive table by table, in the given (foreign-key) order: the query calls a
 * parallel-unsafe function, so it never runs as a parallel plan that could interleave tables.
 */
import { to as copyTo } from 'pg-copy-streams';
import type { TextSink } from './backup-manifest.js';
import type { Client } from './connect.js';
import { columnList, quoteIdent } from './sql.js';

export interface BatchTable {
  readonly qualified: string;
  readonly copyColumns: readonly string[];
  /** What reads the table's own rows (`only …`, see TableInfo.source); `qualified` without it. */
  readonly source?: string;
}

/** SQL: one column's COPY text field (NULL as \N, the four special characters escaped). */
function fieldSql(column: string): string {
  const c = quoteIdent(column);
  return `case when ${c} is null then '\\N' else replace(replace(replace(replace(format('%s', ${c}), '\\', '\\\\'), E'\\n', '\\n'), E'\\r', '\\r'), E'\\t', '\\t') end`;
}

/** SQL: the whole row as one COPY text line. */
function lineSql(columns: readonly string[]): string {
  return columns.map(fieldSql).join(` || E'\\t' || `);
}

const UNESCAPE: Readonly<Record<string, string>> = {
  '\\': '\\',
  t: '\t',
  n: '\n',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
};

/** Undoes COPY text escaping of one field (the outer COPY's layer). */
export function unescapeCopyField(text: string): string {
  return text.includes('\\') ? text.replace(/\\(.)/g, (_, ch: string) => UNESCAPE[ch] ?? ch) : text;
}

/** The lines of a COPY text stream (split on newline bytes, so no character is cut in two). */
async function* toLines(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    const buf: Buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      yield buf.toString('utf8', start, nl);
      start = nl + 1;
    }
    rest = buf.subarray(start);
  }
}

/**
 * Writes `tables` (each with at least one column) as COPY blocks into `sink`, reading them in one
 * COPY on `client`. Returns the rows written per table, in order.
 */
export async function writeCopyBlocksBatched(
  client: Client,
  sink: TextSink,
  tables: readonly BatchTable[],
): Promise<number[]> {
  const rows = tables.map(() => 0);
  if (tables.length === 0) return rows;
  const parts = tables.map(
    (t, i) => `select ${i} as i, ${lineSql(t.copyColumns)} as line from ${t.source ?? t.qualified}`,
  );
  const sql = `copy (select s.i, s.line from (${parts.join(' union all ')}) s,
      (select pg_catalog.pg_current_xact_id_if_assigned()) serial) to stdout`;
  let current = -1;
  const open = async (i: number): Promise<void> => {
    if (current >= 0) await sink.write('\\.\n\n');
    for (let k = current + 1; k < i; k++) await sink.write(block(tables[k]!));
    current = i;
    await sink.write(`COPY ${tables[i]!.qualified} (${columnList(tables[i]!.copyColumns)}) FROM stdin;\n`);
  };
  const out = client.query(copyTo(sql));
  try {
    for await (const line of toLines(out as AsyncIterable<Buffer>)) {
      const tab = line.indexOf('\t');
      const i = Number(line.slice(0, tab));
      if (i < current) throw new Error('batched COPY returned its tables out of order');
      if (i !== current) await open(i);
      rows[i]!++;
      await sink.write(`${unescapeCopyField(line.slice(tab + 1))}\n`);
    }
  } catch (err) {
    if (sink.failure) await client.end().catch(() => undefined);
    throw err;
  }
  if (current >= 0) await sink.write('\\.\n\n');
  for (let k = current + 1; k < tables.length; k++) await sink.write(block(tables[k]!));
  return rows;
}

/** An empty table's block. */
function block(t: BatchTable): string {
  return `COPY ${t.qualified} (${columnList(t.copyColumns)}) FROM stdin;\n\\.\n\n`;
}
