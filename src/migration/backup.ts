/**
 * Migration backups: `pg_dump` of what the project owns, as a plain SQL file that restores in ONE
 * transaction as the schema owner (`crm-env restore`, or stock `psql -1 -v ON_ERROR_STOP=1 -f`).
 *
 * Kinds (in the file name, `<target>_<kind>_backup_<ts>.sql`):
 * - `full` (`migrate backup`, deploy; in backups/migrations/): the schemas the project owns, schema
 *   and data — `public` and `supabase_migrations` (the history, so that a restore also restores which
 *   migrations are applied). It leaves out `auth`, `storage`, `extensions` and the rest of Supabase's
 *   schemas: on real Supabase `postgres` can neither drop nor re-create their objects, so a backup
 *   that `--clean`s them could never be restored there.
 * - `reset` (backups/reset/) and `safety` (before a restore, backups/safety/): a full backup plus the
 *   test users' auth rows (auth.users and auth.identities in TEST_EMAIL_DOMAIN; reset and restore
 *   change those), so that restoring one puts back everything the command changed.
 * - `full` with `schemaOnly` (`--schema-only`; target `<label>-schema`, so that it is never taken for
 *   a full backup): the same schemas without the `public` tables' rows — the schema and the migration
 *   history, for rehearsing migrations on a copy of production's schema (CI's "shadow").
 * - `data` (`--data-only`): the `public` tables' rows, preceded by one TRUNCATE of those tables, so
 *   that restoring it replaces the data; no migration history (it describes the schema a data-only
 *   restore keeps).
 *
 * Every file carries a manifest (src/db/backup-manifest.ts) whose row counts and checksums are read in
 * the snapshot pg_dump dumps (`--snapshot`, exported by a REPEATABLE READ session), so they describe
 * exactly what the file holds.
 *
 * pg_dump flags: `--no-owner --clean --if-exists` as the spec's backup.sh, but WITH privileges: the
 * migrations grant and revoke explicitly (anon gets nothing), and re-created tables would otherwise
 * get Supabase's default privileges (ALL to anon and authenticated). The output goes through
 * {@link dumpFilterStream}, which keeps schemas instead of dropping them; see there why.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import type { BackupKind, ReservedBackupFile } from '../db/backup-file.js';
import {
  backupIoError,
  commitBackupFile,
  discardBackupFile,
  pruneBackups,
  reserveBackupFile,
} from '../db/backup-file.js';
import type { ManifestTable } from '../db/backup-manifest.js';
import {
  backupHeader,
  COPY_SETTINGS_SQL,
  manifestTrailer,
  MANIFEST_FORMAT,
  memorySink,
  serverVersion,
  tableManifest,
  testUserAuthEntries,
  toolVersion,
  writeTestUserAuth,
} from '../db/backup-manifest.js';
import type { TableInfo } from '../db/catalog.js';
import { cycleBreakingConstraints, readTables } from '../db/catalog.js';
import { useCanonicalOutput } from '../db/checksum.js';
import { readMatviews, refreshStatements } from '../db/matviews.js';
import type { Client } from '../db/connect.js';
import { withClient } from '../db/connect.js';
import type { PgDumpBinary } from '../db/pg-dump.js';
import { findPgDump, runPgDump, serverMajor } from '../db/pg-dump.js';
import { dumpFilterStream } from '../db/pg-dump-filter.js';
import { testUserPredicate } from '../dev/test-users-sql.js';
import { OperationError, UsageError } from '../errors.js';
import { shownPath } from '../format.js';
import { endOnAbort } from '../interrupt.js';
import { redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';

/** The kinds pg_dump writes (sync backups are written by the push itself). */
export type DumpKind = Exclude<BackupKind, 'sync'>;

export interface BackupOptions {
  /** Default `full` (`data` with {@link dataOnly}). */
  readonly kind?: DumpKind;
  /** The same as kind `data`. */
  readonly dataOnly?: boolean;
  /** Kind `full` without the `public` tables' rows (see the module comment); target `<label>-schema`. */
  readonly schemaOnly?: boolean;
  /** After writing, keep only the newest `keep` backups of this kind and target (default BACKUP_RETENTION). */
  readonly keep?: number;
  /** Target name in the file name; default the target's label (local, cloud, custom). */
  readonly label?: string;
  /** Folder under config.backupDir; default by kind: migrations (full, data), reset, safety. */
  readonly subdir?: string;
  /** Stops the backup (Ctrl-C): pg_dump is killed, the partial file removed. */
  readonly signal?: AbortSignal;
}

export interface BackupResult {
  /** Absolute path of the backup file. */
  readonly file: string;
  readonly kind: DumpKind;
  readonly bytes: number;
  readonly ms: number;
  /** The pg_dump used and its version, e.g. "/usr/bin/pg_dump (15.18)". */
  readonly pgDump: string;
  /** Rows the file holds (sum over its manifest). */
  readonly rows: number;
  /** Older backups of the same kind and target removed by retention or `keep`. */
  readonly pruned: readonly string[];
}

/** The schemas a full backup holds (see the module comment for why only these). */
export const BACKUP_SCHEMAS = ['public', 'supabase_migrations'] as const;

const SUBDIRS: Readonly<Record<DumpKind, string>> = {
  full: 'migrations',
  data: 'migrations',
  reset: 'reset',
  safety: 'safety',
};

export { backupTimestamp, listBackups, pruneBackups } from '../db/backup-file.js';

/** What a backup of one database holds, read from its catalog in the backup's snapshot. */
interface DumpPlan {
  readonly schemas: readonly string[];
  readonly entries: readonly { table: TableInfo; where?: string }[];
  readonly auth: readonly { table: TableInfo; where: string }[];
  readonly schemaOnly: boolean;
}

/**
 * Writes a backup of `target` to `<backupDir>/<subdir>/<label>_<kind>_backup_<YYYYMMDD_HHMMSS>.sql`
 * (mode 0600, folders 0700), through a `.partial` file that is fsynced and renamed, so a file with the
 * final name is always complete; then applies the retention.
 * @throws ConfigError when the target is unreachable, no pg_dump fits its version or the folder is not
 * writable; OperationError when pg_dump or a write fails (the partial file removed).
 */
export async function createBackup(
  config: Config,
  target: DatabaseTarget,
  options: BackupOptions = {},
  reporter: Reporter = silentReporter,
): Promise<BackupResult> {
  const t0 = performance.now();
  const schemaOnly = options.schemaOnly ?? false;
  const label = options.label ?? (schemaOnly ? `${target.label}-schema` : target.label);
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(label))
    throw new UsageError(
      `Invalid backup label ${JSON.stringify(label)}: use letters, digits, dots and dashes.`,
    );
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) {
    throw new UsageError(`--keep must be a whole number of at least 1 (got ${options.keep}).`);
  }
  const kind: DumpKind = options.kind ?? (options.dataOnly ? 'data' : 'full');
  if (schemaOnly && kind !== 'full')
    throw new UsageError('--schema-only cannot be combined with --data-only.');
  const dir = path.join(config.backupDir, options.subdir ?? SUBDIRS[kind]);

  const written = await withClient(
    target.url,
    async (snap) => {
      const bin = await findPgDump(config, await serverMajor(snap));
      // One snapshot for the manifest, the test users' auth rows and pg_dump (`--snapshot`).
      await useCanonicalOutput(snap);
      await snap.query('begin isolation level repeatable read read only');
      const { rows } = await snap.query<{ id: string }>('select pg_export_snapshot() as id');
      const plan = await planDump(snap, config, target, kind, schemaOnly);
      const reserved = await reserveBackupFile(dir, label, kind, config.projectDir);
      for (const f of reserved.removedPartials)
        reporter.info(`Removed an unfinished backup left by an interrupted run: ${path.basename(f)}`);
      const abort = (): void => reserved.sink.fail(new Error('interrupted'));
      options.signal?.addEventListener('abort', abort, { once: true });
      // The snapshot session may wait on a lock (its checksums): cancel it too.
      const stopSnap = endOnAbort(options.signal, [snap]);
      try {
        const ctx = { config, target, label, kind, plan, bin, snapshot: rows[0]!.id };
        const out = await writeDump(snap, reserved, ctx);
        return { ...out, file: await commitBackupFile(reserved), pgDump: `${bin.path} (${bin.version})` };
      } catch (err) {
        await discardBackupFile(reserved);
        throw dumpError(err, reserved, config, options.signal);
      } finally {
        stopSnap();
        options.signal?.removeEventListener('abort', abort);
      }
    },
    // pg_dump needs a session of its own: refuse a transaction pooler before starting it.
    { label: target.label, ownSession: true },
  );

  const keep = options.keep ?? config.backupRetention;
  const pruned = keep > 0 ? pruneBackups(dir, label, kind, keep) : [];
  if (pruned.length > 0) {
    reporter.info(
      `Removed ${pruned.length} older ${label} ${kind} backup(s): ${pruned.map((f) => path.basename(f)).join(', ')}`,
    );
  }
  return { ...written, kind, ms: performance.now() - t0, pruned };
}

/** The error a failed dump is reported as: the write error, the interruption, or pg_dump's. */
function dumpError(
  err: unknown,
  reserved: ReservedBackupFile,
  config: Config,
  signal?: AbortSignal,
): unknown {
  if (signal?.aborted)
    return new OperationError('Backup interrupted; the partial file was removed and nothing was changed.', {
      cause: err,
    });
  if (reserved.sink.failure === null) return err;
  return backupIoError(
    reserved.sink.failure,
    `Cannot write the backup ${shownPath(config.projectDir, reserved.file)}`,
    'the partial file was removed and nothing was changed.',
  );
}

/** The schemas (those that exist), tables and test-user auth rows a backup of `kind` holds. */
async function planDump(
  snap: Client,
  config: Config,
  target: DatabaseTarget,
  kind: DumpKind,
  schemaOnly: boolean,
): Promise<DumpPlan> {
  const wanted: readonly string[] = kind === 'data' ? ['public'] : BACKUP_SCHEMAS;
  const { rows } = await snap.query<{ nspname: string }>(
    `select nspname from pg_namespace where nspname = any($1::text[])`,
    [wanted],
  );
  const schemas = wanted.filter((s) => rows.some((r) => r.nspname === s));
  if (schemas.length === 0) {
    throw new OperationError(
      `The ${target.label} database has no ${wanted.join(' or ')} schema: there is nothing to back up.`,
    );
  }
  const entries: { table: TableInfo; where?: string }[] = [];
  // A schema-only backup holds no public rows: its manifest lists only the tables whose rows it has.
  const withRows = schemaOnly ? schemas.filter((s) => s !== 'public') : schemas;
  for (const s of withRows) for (const table of await readTables(snap, s)) entries.push({ table });
  let auth: { table: TableInfo; where: string }[] = [];
  if (kind === 'reset' || kind === 'safety') {
    const authTables = await readTables(snap, 'auth');
    const users = authTables.find((t) => t.name === 'users');
    const identities = authTables.find((t) => t.name === 'identities');
    if (users && identities)
      auth = testUserAuthEntries(users, identities, testUserPredicate(config.testUsers.emailDomain));
  }
  return { schemas, entries: [...entries, ...auth], auth, schemaOnly };
}

interface DumpContext {
  readonly config: Config;
  readonly target: DatabaseTarget;
  readonly label: string;
  readonly kind: DumpKind;
  readonly plan: DumpPlan;
  readonly bin: PgDumpBinary;
  readonly snapshot: string;
}

/** Header, pg_dump's filtered output (with the TRUNCATE or auth rows spliced in), manifest. */
async function writeDump(
  snap: Client,
  reserved: ReservedBackupFile,
  ctx: DumpContext,
): Promise<{ bytes: number; rows: number }> {
  const { config, target, kind, plan } = ctx;
  const sink = reserved.sink;
  const createdAt = new Date().toISOString();
  const restoreTarget = target.label === 'custom' ? '<the database URL>' : target.label;
  await sink.write(
    backupHeader({ kind, target: ctx.label, createdAt }, [
      `Database: ${redactUrl(target.url)}`,
      `Restore: npx crm-env restore <this file> --target ${restoreTarget}   (or: psql -1 -v ON_ERROR_STOP=1 -f <this file> <database URL>)`,
    ]),
  );
  const beforeData = [
    kind === 'data' ? truncateSql(plan) + deferCyclesSql(plan) : '',
    plan.auth.length > 0 ? await testUserAuthSql(snap, plan) : '',
  ].join('');
  const dump = runPgDump({
    bin: ctx.bin,
    url: target.url,
    flags: [...dumpFlags(kind, plan), `--snapshot=${ctx.snapshot}`],
    output: sink.stream,
    transform: dumpFilterStream({
      beforeData: beforeData || undefined,
      // pg_dump --data-only leaves the views' refreshes out (they are post-data): put them back.
      atEnd: kind === 'data' ? refreshStatements(await readMatviews(snap, 'public')) || undefined : undefined,
    }),
    inherited: config.childEnv,
    secrets: config.secrets,
  });
  const sums: Promise<ManifestTable[]> = tableManifest(snap, plan.entries);
  const [, tables, server] = await Promise.all([dump, sums, sums.then(() => serverVersion(snap))]);
  const body = sink.endBody();
  await sink.write(
    manifestTrailer({
      format: MANIFEST_FORMAT,
      kind,
      target: target.label,
      database: redactUrl(target.url),
      createdAt,
      tool: toolVersion(),
      server,
      pgDump: ctx.bin.version,
      tables,
      bytes: body.bytes,
      sha256: body.sha256,
    }),
  );
  return { bytes: sink.bytes, rows: tables.reduce((a, t) => a + t.rows, 0) };
}

function dumpFlags(kind: DumpKind, plan: DumpPlan): string[] {
  const flags =
    kind === 'data'
      ? ['--format=plain', '--data-only', '--no-owner', '--schema=public']
      : [
          '--format=plain',
          '--no-owner',
          '--clean',
          '--if-exists',
          ...plan.schemas.map((s) => `--schema=${s}`),
        ];
  if (plan.schemaOnly) flags.push('--exclude-table-data=public.*');
  // Fail rather than wait forever behind a long-running migration's lock.
  return [...flags, '--lock-wait-timeout=60s'];
}

/** The data backup's TRUNCATE of every public table (restoring replaces the data). */
function truncateSql(plan: DumpPlan): string {
  const tables = plan.entries.filter((e) => e.where === undefined).map((e) => e.table.qualified);
  return tables.length > 0
    ? `-- crm-env: empty the tables before loading them (a data-only backup replaces the data)\nTRUNCATE TABLE ${tables.join(', ')};\n\n`
    : '';
}

/**
 * A data-only restore loads the tables one after the other with their foreign keys in place: the keys
 * that close a cycle (DEFERRABLE, or the tables could not be ordered) wait until COMMIT.
 */
function deferCyclesSql(plan: DumpPlan): string {
  const names = cycleBreakingConstraints(plan.entries.map((e) => e.table)).map((c) => c.qualified);
  return names.length > 0
    ? `-- crm-env: foreign keys in a cycle are checked at COMMIT\nSET CONSTRAINTS ${names.join(', ')} DEFERRED;\n\n`
    : '';
}

/** The test users' auth rows, as statements spliced in before the first table's data. */
async function testUserAuthSql(snap: Client, plan: DumpPlan): Promise<string> {
  const mem = memorySink();
  await mem.write(
    `-- crm-env: the test users' auth rows (auth.users, auth.identities), replacing the target's test users\n${COPY_SETTINGS_SQL}`,
  );
  await writeTestUserAuth(snap, mem, plan.auth);
  return mem.text();
}
