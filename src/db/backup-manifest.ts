/**
 * What makes a backup file prove itself: a first line naming the format, kind and target; at the end a
 * manifest — kind, crm-env, server and pg_dump versions, and per table the row count and the content
 * checksum (the canonical checksums of src/db/checksum.ts, the ones verify uses), computed in the same
 * snapshot as the data — and, as the very last line, an end marker. All three are SQL comments, so the
 * file stays a plain script that stock `psql -1 -v ON_ERROR_STOP=1 -f` restores.
 *
 * A file without the end marker was cut off (disk full, killed run, truncated copy) and is refused by
 * `crm-env restore` before it connects anywhere. The manifest also holds the size and SHA-256 of
 * everything before it, checked before the restore starts; the table checksums are compared with the
 * restored content before COMMIT.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { to as copyTo } from 'pg-copy-streams';
import { z } from 'zod/v3';
import type { BackupKind } from './backup-file.js';
import { BACKUP_KINDS } from './backup-file.js';
import type { TableInfo } from './catalog.js';
import { readTables } from './catalog.js';
import { checksumsRead, checksumTables } from './checksum.js';
import type { Client } from './connect.js';
import type { Read } from './read-together.js';
import { readTogether } from './read-together.js';
import { recalled, remember } from './remembered.js';
import { columnList } from './sql.js';

export const MANIFEST_FORMAT = 1;
const HEADER_PREFIX = `-- crm-env backup, format ${MANIFEST_FORMAT}: `;
const MANIFEST_PREFIX = '-- crm-env manifest: ';
export const END_MARKER = '-- crm-env backup end';
/** The manifest is read from at most this many bytes at the end of the file. */
const TAIL_BYTES = 8 << 20;

const ManifestTableSchema = z.object({
  schema: z.string(),
  name: z.string(),
  /** The columns hashed (all of the table's, at backup time). */
  columns: z.array(z.string()),
  /** Only these rows are in the backup (a sync backup's test users), as SQL. */
  where: z.string().optional(),
  rows: z.number().int().nonnegative(),
  checksum: z.string().regex(/^-?\d+$/),
});

const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  kind: z.enum(BACKUP_KINDS),
  target: z.string(),
  /** The database, password redacted. */
  database: z.string(),
  createdAt: z.string(),
  tool: z.string(),
  server: z.string(),
  pgDump: z.string().nullable(),
  tables: z.array(ManifestTableSchema),
  /** Size and SHA-256 of the file's body: every byte before the manifest. */
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export type ManifestTable = z.infer<typeof ManifestTableSchema>;
export type BackupManifest = z.infer<typeof ManifestSchema>;

export interface BackupHeader {
  readonly kind: BackupKind;
  readonly target: string;
  readonly createdAt: string;
}

/** crm-env's version, from its package.json (the same two folders up from src/db and dist/db). */
export function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return `crm-env ${pkg.version ?? 'unknown'}`;
  } catch {
    return 'crm-env unknown';
  }
}

/** The server's full version (column `v`): one statement, to send with others. */
export const SERVER_VERSION_SQL = `select current_setting('server_version') as v`;

/** Remembers the row of {@link SERVER_VERSION_SQL} read on `client`: serverVersion asks no more. */
export function rememberServerVersion(client: Client, row: Record<string, unknown>): void {
  remember(client, 'server_version', String(row.v));
}

/** The server's full version (`15.8`), for the manifest. */
export async function serverVersion(client: Client): Promise<string> {
  const known = recalled<string>(client, 'server_version');
  if (known !== undefined) return known;
  const { rows } = await client.query<{ v: string }>(SERVER_VERSION_SQL);
  return rows[0]!.v;
}

/** The first lines of every backup: format, kind, target, time; then `notes` as comment lines. */
export function backupHeader(header: BackupHeader, notes: readonly string[] = []): string {
  return [
    `${HEADER_PREFIX}kind ${header.kind}, target ${header.target}, taken ${header.createdAt}`,
    '-- The manifest at the end (rows and content checksum per table) and the last line, the end marker,',
    '-- prove that this file is complete; `crm-env restore` checks both.',
    ...notes.map((n) => `-- ${n}`),
    '',
    '',
  ].join('\n');
}

/** The manifest and end marker, appended after the body (`body` from {@link BackupSink.endBody}). */
export function manifestTrailer(manifest: BackupManifest): string {
  return [
    '',
    `-- The manifest of this backup; crm-env restore compares the restored content with it before COMMIT.`,
    `${MANIFEST_PREFIX}${JSON.stringify(manifest)}`,
    END_MARKER,
    '',
  ].join('\n');
}

/** Row counts and content checksums of `entries`, on `client` (in the caller's snapshot). */
export async function tableManifest(
  client: Client,
  entries: readonly { table: TableInfo; where?: string }[],
): Promise<ManifestTable[]> {
  const [contents] = await readTogether(client, tableManifestRead(entries));
  return contents;
}

/** {@link tableManifest} as a {@link Read}, to send along with other reads. */
export function tableManifestRead(
  entries: readonly { table: TableInfo; where?: string }[],
): Read<ManifestTable[]> {
  const where = new Map(entries.map((e) => [e.table, e.where]));
  const sums = checksumsRead(
    entries.map((e) => e.table),
    (t) => t.columns.map((c) => c.name),
    (t) => where.get(t),
  );
  return {
    sql: sums.sql,
    from: (results) => {
      const s = sums.from(results);
      return entries.map(({ table, where: w }, i) => ({
        schema: table.schema,
        name: table.name,
        columns: table.columns.map((c) => c.name),
        ...(w ? { where: w } : {}),
        rows: s[i]!.rows,
        checksum: s[i]!.checksum,
      }));
    },
  };
}

/**
 * Writes one `COPY … FROM stdin` block of `table` (optionally only rows matching `where`, then with
 * `lockRows` locked FOR SHARE until the transaction ends) into the sink. When the sink fails mid-COPY,
 * the session is still receiving the COPY and can take no other command: it is ended, so that the
 * server rolls its transaction back and releases its locks now.
 */
export async function writeCopyBlock(
  client: Client,
  sink: TextSink,
  table: {
    readonly qualified: string;
    readonly copyColumns: readonly string[];
    readonly source?: string;
    readonly partitioned?: boolean;
  },
  where?: string,
  lockRows = false,
): Promise<number> {
  const cols = columnList(table.copyColumns);
  const from = table.source ?? table.qualified;
  await sink.write(`COPY ${table.qualified} (${cols}) FROM stdin;\n`);
  const sql = where
    ? `copy (select ${cols} from ${from} where ${where}${lockRows ? ' for share' : ''}) to stdout`
    : table.partitioned
      ? `copy (select ${cols} from ${from}) to stdout`
      : `copy ${table.qualified} (${cols}) to stdout`;
  const out = client.query(copyTo(sql));
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) await sink.write(chunk);
  } catch (err) {
    if (sink.failure) await client.end().catch(() => undefined);
    throw err;
  }
  await sink.write('\\.\n\n');
  return out.rowCount ?? 0;
}

/** Where backup text goes: a {@link BackupSink}, or memory ({@link memorySink}). */
export interface TextSink {
  write(data: string | Buffer): Promise<void>;
  readonly failure: Error | null;
}

/** Collects text in memory (for small sections spliced into pg_dump's output). */
export function memorySink(): TextSink & { text(): string } {
  const parts: Buffer[] = [];
  return {
    failure: null,
    write: async (data) => void parts.push(typeof data === 'string' ? Buffer.from(data) : data),
    text: () => Buffer.concat(parts).toString('utf8'),
  };
}

/** The test users' auth rows a backup carries: auth.users matching `pred`, and their identities. */
export function testUserAuthEntries(
  users: TableInfo,
  identities: TableInfo,
  pred: string,
): { table: TableInfo; where: string }[] {
  return [
    { table: users, where: pred },
    { table: identities, where: `user_id in (select id from ${users.qualified} where ${pred})` },
  ];
}

/**
 * Writes the statements that put the test users' auth rows back: delete the target's test users
 * (never another user), then COPY the backed-up ones and their identities (`lockRows`: locked FOR
 * SHARE, so that a manifest computed later in the transaction sees the same rows). Returns the test
 * users.
 */
export async function writeTestUserAuth(
  client: Client,
  sink: TextSink,
  entries: readonly { table: TableInfo; where: string }[],
  lockRows = false,
): Promise<number> {
  const [users, identities] = entries as [
    { table: TableInfo; where: string },
    { table: TableInfo; where: string },
  ];
  await sink.write(`DELETE FROM ${users.table.qualified} WHERE ${users.where};\n\n`);
  const n = await writeCopyBlock(client, sink, users.table, users.where, lockRows);
  await writeCopyBlock(client, sink, identities.table, identities.where, lockRows);
  return n;
}

/** Settings the COPY text of {@link writeCopyBlock} is read with (the canonical output settings). */
export const COPY_SETTINGS_SQL = [
  `SET client_encoding = 'UTF8';`,
  `SET standard_conforming_strings = on;`,
  `SET "DateStyle" = 'ISO, YMD';`,
  `SET "TimeZone" = 'UTC';`,
  `SET "IntervalStyle" = 'postgres';`,
  `SET check_function_bodies = false;`,
  '',
].join('\n');

export type BackupFileStatus = 'complete' | 'incomplete' | 'legacy';

export interface BackupInspection {
  readonly file: string;
  readonly size: number;
  /** complete: end marker and a valid manifest; incomplete: a crm-env backup without them; legacy: no crm-env format line. */
  readonly status: BackupFileStatus;
  readonly header: BackupHeader | null;
  readonly manifest: BackupManifest | null;
  /** Why the file is not complete, as the end of a sentence; null when complete. */
  readonly problem: string | null;
}

const HEADER_LINE = new RegExp(`^${HEADER_PREFIX}kind (\\w+), target (\\S+), taken (\\S+)$`);

/** Reads a backup's first line and its end (never the whole file): is it complete, and what is it. */
export async function inspectBackupFile(file: string): Promise<BackupInspection> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 4096));
    await fh.read(head, 0, head.length, 0);
    const m = HEADER_LINE.exec(head.toString('utf8').split('\n', 1)[0]!);
    const header =
      m && (BACKUP_KINDS as readonly string[]).includes(m[1]!)
        ? { kind: m[1] as BackupKind, target: m[2]!, createdAt: m[3]! }
        : null;
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - tailStart);
    await fh.read(tail, 0, tail.length, tailStart);
    const found = readTrailer(tail, tailStart);
    const base = { file, size, header };
    if (typeof found !== 'string') return { ...base, status: 'complete', manifest: found, problem: null };
    if (header === null && found === NO_END) {
      return {
        ...base,
        status: 'legacy',
        manifest: null,
        problem:
          'it has no crm-env manifest (written by an older crm-env, by hand or by another tool), so nothing proves it complete',
      };
    }
    return { ...base, status: 'incomplete', manifest: null, problem: found };
  } finally {
    await fh.close();
  }
}

const NO_END =
  'it does not end with the end marker: it was cut off while it was written (full disk, killed run) or truncated since';

/** The manifest at the end of `tail` (the file from byte `tailStart` on), or why there is none. */
function readTrailer(tail: Buffer, tailStart: number): BackupManifest | string {
  const text = tail.toString('utf8');
  if (!text.endsWith(`\n${END_MARKER}\n`)) return NO_END;
  const at = text.lastIndexOf(`\n${MANIFEST_PREFIX}`);
  const lineEnd = text.indexOf('\n', at + 1);
  if (at < 0 || text.slice(lineEnd + 1) !== `${END_MARKER}\n`)
    return 'its end marker is not preceded by a manifest';
  let manifest: BackupManifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(text.slice(at + 1 + MANIFEST_PREFIX.length, lineEnd)));
  } catch {
    return 'its manifest is unreadable (edited or damaged)';
  }
  // From the end of the body on: comment lines only, the manifest among them. Anything else means
  // bytes were added or removed since the backup was written.
  const bodyEnd = manifest.bytes - tailStart;
  const trailer = bodyEnd >= 0 && bodyEnd <= tail.length ? tail.subarray(bodyEnd).toString('utf8') : '';
  const lines = trailer.split('\n');
  if (!lines.some((l) => l.startsWith(MANIFEST_PREFIX)) || lines.some((l) => l !== '' && !l.startsWith('--')))
    return 'its size does not match its manifest (bytes were added or removed)';
  return manifest;
}

/** Whether the file's body (everything before the manifest) has the size and SHA-256 the manifest says. */
export async function bodyMatches(file: string, manifest: BackupManifest): Promise<boolean> {
  if (manifest.bytes === 0) return manifest.sha256 === createHash('sha256').digest('hex');
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, {
    start: 0,
    end: manifest.bytes - 1,
  }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return bytes === manifest.bytes && hash.digest('hex') === manifest.sha256;
}

/**
 * Compares the database's content (in the caller's transaction) with the manifest: the differences,
 * one line per table, or none.
 */
export async function compareWithManifest(client: Client, manifest: BackupManifest): Promise<string[]> {
  const differences: string[] = [];
  const present: { table: TableInfo; entry: ManifestTable }[] = [];
  for (const schema of [...new Set(manifest.tables.map((t) => t.schema))]) {
    const tables = new Map((await readTables(client, schema)).map((t) => [t.name, t]));
    for (const entry of manifest.tables.filter((t) => t.schema === schema)) {
      const shown = display(entry);
      const table = tables.get(entry.name);
      const names = new Set(table?.columns.map((c) => c.name));
      const missing = entry.columns.filter((c) => !names.has(c));
      if (!table) differences.push(`${shown}: missing after the restore`);
      else if (missing.length > 0) differences.push(`${shown}: column(s) ${missing.join(', ')} missing`);
      else present.push({ table, entry });
    }
  }
  const byTable = new Map(present.map((p) => [p.table, p.entry]));
  const sums = await checksumTables(
    client,
    present.map((p) => p.table),
    (t) => byTable.get(t)!.columns,
    (t) => byTable.get(t)!.where,
  );
  for (const [i, { entry }] of present.entries()) {
    const got = sums[i]!;
    if (got.rows !== entry.rows)
      differences.push(`${display(entry)}: ${entry.rows} rows in the backup, ${got.rows} restored`);
    else if (got.checksum !== entry.checksum)
      differences.push(`${display(entry)}: ${entry.rows} rows, but their content differs from the backup`);
  }
  return differences;
}

/** `contacts` for public tables, `auth.users (test users)` for a filtered one. */
export function display(t: Pick<ManifestTable, 'schema' | 'name' | 'where'>): string {
  const name = t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
  return t.where ? `${name} (some rows)` : name;
}

/** Total rows in a manifest. */
export function manifestRows(manifest: BackupManifest): number {
  return manifest.tables.reduce((a, t) => a + t.rows, 0);
}
