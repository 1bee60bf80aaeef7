/**
 * Backup files, for every command that writes one: names, writing, finishing and housekeeping.
 *
 * - Name: `<target>_<kind>_backup_<YYYYMMDD_HHMMSS>[_n].sql` (kind: full, data, sync, reset, safety),
 *   in a 0700 folder, mode 0600. A file is written as a `.partial`, fsynced, then linked to its final
 *   name (never replacing another file, even from a second process in the same second).
 * - Writing goes through a {@link BackupSink}: every write is awaited (back-pressure) and raced
 *   against a timeout, so a full, read-only or failing disk (ENOSPC, EACCES, EROFS, EIO) or one that
 *   stops answering ends the backup within seconds with one sentence, never a wait without end.
 * - While written, a `.partial` is touched every {@link HEARTBEAT_MS}; one that has not changed for
 *   {@link STALE_PARTIAL_MS} belongs to a run that was killed, and the next backup in its folder
 *   removes it. A live run's file is never older than that, so two concurrent runs leave each other be.
 * - Retention: after a backup, only the newest N files of the same kind and target are kept.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Config, DatabaseTarget } from '../config.js';
import type { CrmEnvError } from '../errors.js';
import { ConfigError, OperationError } from '../errors.js';
import { shownPath } from '../format.js';

export const BACKUP_KINDS = ['full', 'data', 'sync', 'reset', 'safety'] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];

/** How often a file being written is touched, and when an untouched `.partial` counts as abandoned. */
export const HEARTBEAT_MS = 15_000;
export const STALE_PARTIAL_MS = 5 * 60_000;
/** A single write that takes longer than this means the disk stopped answering. */
export const WRITE_TIMEOUT_MS = 30_000;
const BUFFER_BYTES = 1 << 20;

/** `YYYYMMDD_HHMMSS` in UTC, the spec's backup file timestamp. */
export function backupTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

/** The name a backup of `target` of `kind` taken at `date` gets when nothing else has it. */
export function backupPath(dir: string, target: string, kind: BackupKind, date: Date = new Date()): string {
  return path.join(dir, `${target}_${kind}_backup_${backupTimestamp(date)}.sql`);
}

export interface BackupName {
  readonly target: string;
  /** Null for files named before backups carried their kind (`<target>_backup_<ts>.sql`). */
  readonly kind: BackupKind | null;
  /** `YYYYMMDD_HHMMSS`. */
  readonly stamp: string;
  readonly counter: number;
}

const NAME = new RegExp(`^(.+?)(?:_(${BACKUP_KINDS.join('|')}))?_backup_(\\d{8}_\\d{6})(?:_(\\d+))?\\.sql$`);

/** Reads a backup file name; null when it is not one. */
export function parseBackupName(file: string): BackupName | null {
  const m = NAME.exec(path.basename(file));
  if (!m) return null;
  return {
    target: m[1]!,
    kind: (m[2] as BackupKind | undefined) ?? null,
    stamp: m[3]!,
    counter: Number(m[4] ?? 0),
  };
}

/** When a backup was taken, from its name (UTC); null when the name has no timestamp. */
export function backupNameDate(file: string): Date | null {
  const n = parseBackupName(file);
  if (!n) return null;
  const s = n.stamp;
  return new Date(
    Date.UTC(
      +s.slice(0, 4),
      +s.slice(4, 6) - 1,
      +s.slice(6, 8),
      +s.slice(9, 11),
      +s.slice(11, 13),
      +s.slice(13, 15),
    ),
  );
}

/** Backup files of `target` and `kind` in `dir` (never `.partial`s, never legacy names), oldest first. */
export function listBackups(dir: string, target: string, kind: BackupKind): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => ({ f, n: parseBackupName(f) }))
    .filter(({ n }) => n !== null && n.target === target && n.kind === kind)
    .sort((a, b) =>
      a.n!.stamp === b.n!.stamp ? a.n!.counter - b.n!.counter : a.n!.stamp < b.n!.stamp ? -1 : 1,
    )
    .map(({ f }) => path.join(dir, f));
}

/** Deletes all but the newest `keep` backups of `target` and `kind` in `dir`; returns the deleted paths. */
export function pruneBackups(dir: string, target: string, kind: BackupKind, keep: number): string[] {
  const files = listBackups(dir, target, kind);
  const doomed = files.slice(0, Math.max(0, files.length - keep));
  for (const f of doomed) unlinkSync(f);
  return doomed;
}

/** Removes `.partial` files in `dir` untouched for {@link STALE_PARTIAL_MS} (killed runs); returns them. */
export function removeStalePartials(dir: string, now: number = Date.now()): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.partial')) continue;
    const file = path.join(dir, f);
    try {
      if (statSync(file).mtimeMs < now - STALE_PARTIAL_MS) {
        rmSync(file);
        removed.push(file);
      }
    } catch {
      // Gone meanwhile (another run cleaned it): nothing to do.
    }
  }
  return removed;
}

const IO_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EIO: 'an input/output error on the device',
  ENOTDIR: 'a path component is not a folder',
  ETIMEDOUT: `no write completed within ${WRITE_TIMEOUT_MS / 1000} s (the disk stopped answering)`,
};
/** Errors that a changed setting (BACKUP_DIR, permissions, mount) fixes: exit 2. */
const CONFIG_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR']);

/**
 * One sentence for a failed file operation on a backup: what, where, why (with the errno code).
 * `what` starts the sentence, e.g. "Cannot write the backup backups/sync/x.sql".
 */
export function backupIoError(err: unknown, what: string, tail = 'nothing was changed.'): CrmEnvError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const reason = IO_REASONS[code] ?? (err instanceof Error ? err.message : String(err));
  const message = `${what}: ${reason}${code && IO_REASONS[code] ? ` (${code})` : ''}; ${tail}`;
  return CONFIG_CODES.has(code)
    ? new ConfigError(message, { cause: err })
    : new OperationError(message, { cause: err });
}

/** A write that failed or timed out; what the sink reports as {@link BackupSink.failure}. */
class WriteTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}

export interface ReservedBackupFile {
  /** Final name (may still change at commit if another process took it meanwhile). */
  readonly file: string;
  readonly partial: string;
  readonly dir: string;
  readonly target: string;
  readonly kind: BackupKind;
  /** Stale `.partial` files of killed runs that the reservation removed. */
  readonly removedPartials: readonly string[];
  readonly sink: BackupSink;
}

/**
 * Reserves a name no file (finished or in progress) has, by creating its `.partial` exclusively, after
 * removing abandoned `.partial`s in the folder. Folder or file errors (read-only, permissions) become
 * one sentence (exit 2): nothing was changed.
 */
export async function reserveBackupFile(
  dir: string,
  target: string,
  kind: BackupKind,
  projectDir: string,
  date: Date = new Date(),
): Promise<ReservedBackupFile> {
  try {
    makeFolder(dir);
    const removedPartials = removeStalePartials(dir);
    const first = backupPath(dir, target, kind, date);
    for (let n = 0; ; n++) {
      const file = n === 0 ? first : first.replace(/\.sql$/, `_${n}.sql`);
      if (existsSync(file)) continue;
      try {
        const handle = await open(`${file}.partial`, 'wx', 0o600);
        const sink = new BackupSink(handle, `${file}.partial`, shownPath(projectDir, file));
        return { file, partial: `${file}.partial`, dir, target, kind, removedPartials, sink };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } catch (err) {
    throw backupIoError(err, `Cannot create a backup file in ${shownPath(projectDir, dir)}`);
  }
}

/**
 * `mkdir -p` with mode 0700. A recursive mkdir reports ENOENT whatever stopped it; the nearest
 * existing folder tells the real reason (read-only file system, permissions).
 */
function makeFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    let parent = path.dirname(dir);
    while (!existsSync(parent) && parent !== path.dirname(parent)) parent = path.dirname(parent);
    accessSync(parent, constants.W_OK);
    throw err;
  }
}

/**
 * Makes the written `.partial` durable (fsync, then the folder) and gives it its final name without
 * replacing any file; returns that name.
 */
export async function commitBackupFile(reserved: ReservedBackupFile): Promise<string> {
  await reserved.sink.close();
  try {
    return await finalName(reserved);
  } catch (err) {
    reserved.sink.fail(err as Error);
    throw err;
  }
}

async function finalName(reserved: ReservedBackupFile): Promise<string> {
  chmodSync(reserved.partial, 0o600);
  let file = reserved.file;
  const base = reserved.file.replace(/(_\d{8}_\d{6})(?:_\d+)?\.sql$/, '$1');
  for (let n = 1; ; n++) {
    try {
      linkSync(reserved.partial, file);
      unlinkSync(reserved.partial);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        file = `${base}_${n}.sql`;
        continue;
      }
      // File systems without hard links: rename, after checking the name is free.
      if (existsSync(file)) throw err;
      renameSync(reserved.partial, file);
      break;
    }
  }
  const folder = await open(reserved.dir, 'r');
  await folder.sync().catch(() => undefined);
  await folder.close();
  return file;
}

/** Removes a half-written backup (it may hold a partial copy of someone's data). */
export async function discardBackupFile(reserved: ReservedBackupFile): Promise<void> {
  reserved.sink.closeQuietly();
  rmSync(reserved.partial, { force: true });
}

/**
 * Buffered, awaited writes into a reserved backup file, with a SHA-256 of everything written before
 * {@link endBody} (the file's body, which the manifest describes). After the first failure every
 * write rejects with the same error; {@link stream} is a Writable over the same file for pipelines.
 */
export class BackupSink {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private written = 0;
  private readonly hash = createHash('sha256');
  private hashing = true;
  private bodyBytes = 0;
  private lastByte = -1;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  /** The first write error (or timeout), if any. */
  failure: Error | null = null;
  /** For pipelines (pg_dump's output): every chunk goes through {@link write}. */
  readonly stream: Writable;

  constructor(
    private readonly handle: FileHandle,
    readonly partial: string,
    /** The final name as shown to the user, for messages. */
    readonly shown: string,
  ) {
    this.heartbeat = setInterval(() => {
      const now = new Date();
      void handle.utimes(now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => void this.write(chunk).then(() => cb(), cb),
      final: (cb) => void this.flush().then(() => cb(), cb),
    });
    // The failure is reported by write()/flush(); a stream nobody piped into must not crash the process.
    this.stream.on('error', () => undefined);
  }

  /** Bytes accepted so far (body and trailer). */
  get bytes(): number {
    return this.written + this.buffered;
  }

  /** Appends `data`; resolves once the buffer has room again (back-pressure). */
  async write(data: string | Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (buf.length === 0) return;
    if (this.hashing) {
      this.hash.update(buf);
      this.bodyBytes += buf.length;
    }
    this.lastByte = buf[buf.length - 1]!;
    this.chunks.push(buf);
    this.buffered += buf.length;
    if (this.buffered >= BUFFER_BYTES) await this.flush();
  }

  /** Ends the body: its size and SHA-256, and whether it ends with a newline. */
  endBody(): { bytes: number; sha256: string; endsWithNewline: boolean } {
    this.hashing = false;
    return { bytes: this.bodyBytes, sha256: this.hash.digest('hex'), endsWithNewline: this.lastByte === 10 };
  }

  /** Writes the buffer out, each write raced against {@link WRITE_TIMEOUT_MS}. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buffered === 0) return;
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    try {
      while (buf.length > 0) {
        const { bytesWritten } = await withTimeout(this.handle.write(buf, 0, buf.length, null));
        this.written += bytesWritten;
        buf = buf.subarray(bytesWritten);
      }
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
  }

  /** Makes every further write fail with `err` and breaks the pipeline using {@link stream}. */
  fail(err: Error): void {
    this.failure ??= err;
    this.stream.destroy(err);
  }

  /** Flushes, fsyncs and closes. */
  async close(): Promise<void> {
    await this.flush();
    try {
      await withTimeout(this.handle.sync());
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    clearInterval(this.heartbeat);
    this.closed = true;
    await this.handle.close();
  }

  /** Closes without waiting (a stuck disk must not hold the command). */
  closeQuietly(): void {
    clearInterval(this.heartbeat);
    if (!this.closed) {
      this.closed = true;
      void this.handle.close().catch(() => undefined);
    }
  }
}

async function withTimeout<T>(op: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WriteTimeout('write timed out')), WRITE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([op, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The command that restores `file` into `target`, as printed in "to go back" lines: runnable as is
 * (`--yes`), except that a custom URL is not repeated (it holds a password).
 */
export function restoreCommandLine(config: Config, file: string, target: DatabaseTarget): string {
  const shown = shownPath(config.projectDir, file);
  const arg = /^[\w./@%+=:,-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
  const t = target.label === 'custom' ? "'<the same database URL>'" : target.label;
  return `npx crm-env restore ${arg} --target ${t} --yes`;
}
