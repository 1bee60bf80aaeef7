/**
 * COPY streams between servers and files, built on pg-copy-streams. `pipeline()` destroys the
 * destination on any failure, which sends CopyFail: the server then rejects the whole COPY.
 */

import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Client } from './connect.js';
import { columnList } from './sql.js';

export interface CopySource {
  /** Qualified, quoted table name. */
  readonly qualified: string;
  readonly columns: readonly string[];
  /** Optional row filter for the source (SQL expression; built by the caller with parameters inlined safely). */
  readonly where?: string;
  /** What a SELECT reads the table's own rows from (`only …`; see TableInfo.source). */
  readonly source?: string;
  /** A partitioned parent: COPY cannot read it by name, only through a SELECT. */
  readonly partitioned?: boolean;
}

function copyOutSql(src: CopySource): string {
  const from = src.source ?? src.qualified;
  if (src.where) return `copy (select ${columnList(src.columns)} from ${from} where ${src.where}) to stdout`;
  return src.partitioned
    ? `copy (select ${columnList(src.columns)} from ${from}) to stdout`
    : `copy ${src.qualified} (${columnList(src.columns)}) to stdout`;
}

/** Counts bytes passing through, for progress and summaries. */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(
    chunk: Buffer,
    _enc: BufferEncoding,
    cb: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export interface CopyResult {
  readonly rows: number;
  readonly bytes: number;
}

/**
 * Streams rows from `source` on one server into the same columns of `targetQualified` on another.
 * The target COPY only becomes visible when the caller's transaction commits.
 */
export async function copyBetween(
  from: Client,
  to: Client,
  source: CopySource,
  targetQualified: string,
  signal?: AbortSignal,
): Promise<CopyResult> {
  return copyQueryBetween(
    from,
    to,
    copyOutSql(source),
    `copy ${targetQualified} (${columnList(source.columns)}) from stdin`,
    signal,
  );
}

/** The same, for callers that build both COPY statements themselves. */
export async function copyQueryBetween(
  from: Client,
  to: Client,
  copyOut: string,
  copyIn: string,
  signal?: AbortSignal,
): Promise<CopyResult> {
  const out = from.query(copyTo(copyOut));
  const into = to.query(copyFrom(copyIn));
  const counter = new ByteCounter();
  await pipeline(out, counter, into, signal ? { signal } : {});
  return { rows: into.rowCount ?? 0, bytes: counter.bytes };
}
