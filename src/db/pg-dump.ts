/**
 * Finding and running `pg_dump`.
 *
 * pg_dump refuses to dump a server newer than itself, so the binary must be at least the server's
 * major version. Nothing about the connection appears on its command line (any local user can read a
 * process's arguments from /proc or `ps`): it goes as `PG*` variables built from the parsed URL
 * ({@link libpqEnv}: host, port, user, password, database, sslmode, sslrootcert, options…) in an
 * environment that inherits only PATH, HOME, locale and the like (config.childEnv); only the same
 * user can read a process's environment.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Config } from '../config.js';
import { ConfigError, OperationError } from '../errors.js';
import { redactText } from '../redact.js';
import { libpqEnv, parseConnString } from './conn-string.js';
import type { Client } from './connect.js';

const run = promisify(execFile);

export interface PgDumpBinary {
  /** What to execute: an absolute path, or `pg_dump` (resolved through PATH). */
  readonly path: string;
  /** As printed by `--version`, e.g. "15.18". */
  readonly version: string;
  /** 15 for 15.18; 9.6 for 9.6.24 (before PostgreSQL 10 the major version had two parts). */
  readonly major: number;
  readonly source: 'PG_DUMP' | 'PATH' | 'PG_BIN' | 'installed';
}

/** The server's major version (15 for 15.8). */
export async function serverMajor(client: Client): Promise<number> {
  const { rows } = await client.query<{ v: string }>(`select current_setting('server_version_num') as v`);
  const num = Number(rows[0]!.v);
  return num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 100) / 10;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian …)`. */
export function parsePgDumpVersion(output: string): { version: string; major: number } | null {
  const m = /\(PostgreSQL\)\s+((\d+)(?:\.(\d+))?\S*)/.exec(output);
  if (!m) return null;
  const first = Number(m[2]);
  const major = first >= 10 ? first : Number(`${first}.${m[3] ?? '0'}`);
  return { version: m[1]!, major };
}

type Probed = { version: string; major: number } | null;

/**
 * Answers of `<bin> --version`, per binary and PATH, for this process: the preflight, the deploy's check
 * and the backup itself all look for the same pg_dump, and a Debian wrapper takes ~0.1 s to answer.
 */
const probed = new Map<string, Promise<Probed>>();

/** `<bin> --version` with the inherited environment `env` (never our DATABASE_URL_* variables). */
function probe(bin: string, env: Readonly<Record<string, string>>): Promise<Probed> {
  const key = `${bin}\0${env.PATH ?? ''}`;
  let result = probed.get(key);
  if (result === undefined) {
    result = run(bin, ['--version'], { timeout: 10_000, env: { ...env } }).then(
      ({ stdout }) => parsePgDumpVersion(stdout),
      () => null,
    );
    probed.set(key, result);
  }
  return result;
}

/** Folders where PostgreSQL client packages put pg_dump (Debian/Ubuntu, Homebrew, Windows), newest first. */
function installedCandidates(): string[] {
  const found: { dir: string; major: number }[] = [];
  const scan = (root: string, pattern: RegExp, bin: (d: string) => string): void => {
    if (!existsSync(root)) return;
    for (const d of readdirSync(root)) {
      const m = pattern.exec(d);
      if (m) found.push({ dir: bin(path.join(root, d)), major: Number(m[1] ?? 0) });
    }
  };
  scan('/usr/lib/postgresql', /^(\d+)$/, (d) => path.join(d, 'bin'));
  for (const brew of ['/opt/homebrew/opt', '/usr/local/opt']) {
    scan(brew, /^(?:postgresql@(\d+)|libpq)$/, (d) => path.join(d, 'bin'));
  }
  // The EDB installer and winget's PostgreSQL.PostgreSQL.<N> install into C:\Program Files\PostgreSQL\<N>.
  if (process.platform === 'win32')
    scan('C:\\Program Files\\PostgreSQL', /^(\d+)$/, (d) => path.join(d, 'bin'));
  const exe = process.platform === 'win32' ? 'pg_dump.exe' : 'pg_dump';
  return found
    .sort((a, b) => b.major - a.major)
    .map((f) => path.join(f.dir, exe))
    .filter((f) => existsSync(f));
}

/** The commands that take a pg_dump backup first, and those that never need pg_dump. */
const NEEDS_PG_DUMP = 'migrate deploy, migrate backup, reset and restore';
const WITHOUT_PG_DUMP = 'sync push, verify and users create/check';

/** One-line installs of a pg_dump for PostgreSQL `major`, per system (printed under the error). */
export function pgDumpInstallLines(major: number): string[] {
  const m = Math.ceil(major);
  return [
    `Debian/Ubuntu (PGDG): sudo apt install -y postgresql-common && sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y && sudo apt install -y postgresql-client-${m}`,
    `macOS: brew install libpq   (or: brew install postgresql@${m})`,
    `Windows: winget install PostgreSQL.PostgreSQL.${m}   (or the EDB installer; command line tools suffice)`,
    'Or point PG_DUMP at a pg_dump that is new enough.',
  ];
}

function noPgDump(server: number, found: string): ConfigError {
  return new ConfigError(
    `${found}, but the server runs PostgreSQL ${server}: ${NEEDS_PG_DUMP} take a pg_dump backup first and need pg_dump ${Math.ceil(server)} or newer (${WITHOUT_PG_DUMP} work without it); nothing was changed.`,
    { details: pgDumpInstallLines(server) },
  );
}

/**
 * Picks a pg_dump whose major version is at least `server`: PG_DUMP (when set, it is the only
 * candidate: an explicit choice is never silently replaced), then PATH, then PG_BIN, then the
 * versioned install folders.
 * @throws ConfigError naming the server version and how to install a matching client.
 */
export async function findPgDump(config: Config, server: number): Promise<PgDumpBinary> {
  if (config.pgDump !== null) {
    const v = await probe(config.pgDump, config.childEnv);
    if (v === null)
      throw new ConfigError(
        `PG_DUMP=${config.pgDump} is not a working pg_dump (\`${config.pgDump} --version\` failed).`,
      );
    if (v.major < server) throw noPgDump(server, `PG_DUMP=${config.pgDump} is pg_dump ${v.version}`);
    return { path: config.pgDump, ...v, source: 'PG_DUMP' };
  }
  const candidates: { path: string; source: PgDumpBinary['source'] }[] = [
    { path: 'pg_dump', source: 'PATH' },
  ];
  if (config.stack.pgBin !== null)
    candidates.push({ path: path.join(config.stack.pgBin, 'pg_dump'), source: 'PG_BIN' });
  for (const p of installedCandidates()) candidates.push({ path: p, source: 'installed' });
  const tooOld: string[] = [];
  for (const c of candidates) {
    const v = await probe(c.path, config.childEnv);
    if (v === null) continue;
    if (v.major >= server) return { path: c.path, ...v, source: c.source };
    tooOld.push(`${c.source === 'PATH' ? 'pg_dump on PATH' : c.path} ${v.version}`);
  }
  throw noPgDump(
    server,
    tooOld.length > 0
      ? `Only older pg_dump programs were found (${tooOld.join(', ')})`
      : 'No pg_dump was found',
  );
}

/**
 * The check a command that backs up runs before its first write: a pg_dump at least as new as the
 * server `client` is connected to. Returns it (createBackup finds the same one again).
 * @throws ConfigError (exit 2) naming the commands that need pg_dump and how to install one.
 */
export async function requirePgDump(config: Config, client: Client): Promise<PgDumpBinary> {
  return findPgDump(config, await serverMajor(client));
}

export interface PgDumpInvocation {
  /** pg_dump's flags only: no connection setting, no password. */
  readonly args: readonly string[];
  /** The libpq variables that say where and how to connect (PGPASSWORD when the URL has a password). */
  readonly env: Readonly<Record<string, string>>;
}

/** The arguments and `PG*` environment for dumping the database at `url` with `flags`. */
export function pgDumpInvocation(url: string, flags: readonly string[]): PgDumpInvocation {
  return { args: [...flags], env: libpqEnv(parseConnString(url), 'crm-env backup') };
}

export interface RunPgDumpOptions {
  readonly bin: PgDumpBinary;
  readonly url: string;
  readonly flags: readonly string[];
  /** Where the (transformed) output goes; the caller creates and owns it. */
  readonly output: Writable;
  /** Applied to pg_dump's stdout before `output` (e.g. the restore-compatibility filter). */
  readonly transform?: NodeJS.ReadWriteStream;
  /** The environment pg_dump inherits (config.childEnv): PATH, HOME, locale; its PG* variables are added. */
  readonly inherited: Readonly<Record<string, string>>;
  /** Extra secrets to hide in pg_dump's stderr. */
  readonly secrets?: readonly string[];
}

/**
 * Runs pg_dump and streams its output into `output`.
 * @throws OperationError with pg_dump's stderr, redacted, when it fails.
 */
export async function runPgDump(options: RunPgDumpOptions): Promise<void> {
  const inv = pgDumpInvocation(options.url, options.flags);
  const secrets = [...(options.secrets ?? []), ...(inv.env.PGPASSWORD ? [inv.env.PGPASSWORD] : [])];
  // PATH, HOME (~/.pgpass), locale… are inherited; no PG* variable and no DATABASE_URL_* is.
  const child = spawn(options.bin.path, [...inv.args], {
    env: { ...options.inherited, ...inv.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const stages: (Readable | NodeJS.ReadWriteStream | Writable)[] = [child.stdout];
  if (options.transform) stages.push(options.transform);
  stages.push(options.output);
  let code: number | null;
  try {
    const [, status] = await Promise.all([
      (pipeline as (...s: unknown[]) => Promise<void>)(...stages),
      exited,
    ]);
    code = status;
  } catch (err) {
    child.kill();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError(`Cannot run ${options.bin.path}: not found.`, { cause: err });
    }
    throw new OperationError(
      `pg_dump failed: ${redactText(stderr.trim() || (err as Error).message, secrets)}`,
      { cause: err },
    );
  }
  if (code !== 0) {
    throw new OperationError(
      `pg_dump failed (exit ${code}): ${redactText(stderr.trim(), secrets) || 'no message'}`,
    );
  }
}
