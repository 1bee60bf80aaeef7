/**
 * One PostgreSQL server (cluster) on this machine: create, start, stop, probe. Used by the embedded
 * stack and by the test harness alike, so the tests exercise the same code users run.
 *
 * Like Supabase, the cluster's bootstrap superuser is `supabase_admin`, and `postgres` is a
 * non-superuser with BYPASSRLS that owns the `postgres` database. Tools connect as `postgres`, as they
 * would to Supabase, so permission problems show up here rather than in the cloud.
 */
import { execFile, execFileSync } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, OperationError } from '../errors.js';
import { withClient } from '../db/connect.js';
import { quoteLiteral } from '../db/sql.js';

const run = promisify(execFile);

export interface ServerSpec {
  readonly name: string;
  readonly binDir: string;
  readonly dataDir: string;
  readonly port: number;
  /** Password of both `supabase_admin` and `postgres`. */
  readonly password: string;
  /** Extra `-c name=value` settings (the test harness turns off fsync). */
  readonly settings?: Readonly<Record<string, string>>;
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

/** Postgres refuses to run as root: when we are root, run its programs as the `postgres` OS user. */
function runAs(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new ConfigError(
      'PostgreSQL refuses to run as root and there is no `postgres` OS user: create one (`useradd --system postgres`) or run as a normal user.',
    );
  }
}

/**
 * True when the OS user the servers run as can enter `dir` (every existing ancestor searchable). Only
 * matters as root: a checkout under a private folder (/root, a 0700 mktemp dir) is closed to it.
 */
export function serverUserCanReach(dir: string): boolean {
  const who = runAs();
  if (who.uid === undefined) return true;
  let current = path.resolve(dir);
  for (;;) {
    let st: Stats | null = null;
    try {
      st = statSync(current);
    } catch {
      st = null; // not created yet: its parents decide
    }
    if (st) {
      const ok =
        st.uid === who.uid
          ? (st.mode & 0o100) !== 0
          : st.gid === who.gid
            ? (st.mode & 0o010) !== 0
            : (st.mode & 0o001) !== 0;
      if (!ok) return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** The server programs' environment: they run by absolute path, in the C locale. */
const SERVER_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' } as const;

function ensureDir(dir: string, who: RunAs, mode = 0o700): void {
  // Folders created on the way stay searchable (0755): the server user must be able to pass them.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, mode);
  if (who.uid !== undefined) chownSync(dir, who.uid, who.gid!);
}

async function pgCtl(spec: ServerSpec, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const who = runAs();
  return run(path.join(spec.binDir, 'pg_ctl'), ['-D', spec.dataDir, ...args], {
    uid: who.uid,
    gid: who.gid,
    env: SERVER_ENV,
  });
}

/** Creates the cluster if its data folder is empty. Returns false when it already existed. */
export async function initCluster(spec: ServerSpec): Promise<boolean> {
  if (existsSync(path.join(spec.dataDir, 'PG_VERSION'))) return false;
  const who = runAs();
  const parent = path.dirname(spec.dataDir);
  ensureDir(parent, who, 0o755);
  ensureDir(spec.dataDir, who);
  const pwfile = path.join(parent, `.${spec.name}.pw`);
  writeFileSync(pwfile, `${spec.password}\n`, { mode: 0o600 });
  if (who.uid !== undefined) chownSync(pwfile, who.uid, who.gid!);
  try {
    await run(
      path.join(spec.binDir, 'initdb'),
      [
        '-D',
        spec.dataDir,
        '-U',
        'supabase_admin',
        `--pwfile=${pwfile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=trust',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      {
        uid: who.uid,
        gid: who.gid,
        env: SERVER_ENV,
      },
    );
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    if (who.uid !== undefined && /Permission denied/.test(stderr)) {
      throw new ConfigError(
        `The postgres OS user cannot reach ${spec.dataDir} (a parent folder is private to root); set STACK_DIR to a folder it can enter, e.g. /var/tmp/crm-env.`,
        { cause: err, details: [stderr] },
      );
    }
    throw new OperationError(`initdb failed for the ${spec.name} server in ${spec.dataDir}.`, {
      cause: err,
      details: [stderr],
    });
  } finally {
    writeFileSync(pwfile, '');
  }
  return true;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True when this data folder's postmaster is running. */
export async function isRunning(spec: ServerSpec): Promise<boolean> {
  if (!existsSync(path.join(spec.dataDir, 'postmaster.pid'))) return false;
  try {
    await pgCtl(spec, ['status']);
    return true;
  } catch {
    return false;
  }
}

/** Starts the server and waits until it accepts connections. */
export async function startServer(spec: ServerSpec): Promise<void> {
  const who = runAs();
  const logFile = path.join(path.dirname(spec.dataDir), `${spec.name}.log`);
  if (!existsSync(logFile)) writeFileSync(logFile, '');
  if (who.uid !== undefined) chownSync(logFile, who.uid, who.gid!);
  chmodSync(logFile, 0o600);
  const settings: Record<string, string> = {
    port: String(spec.port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: quoteForOption(spec.dataDir),
    max_connections: '100',
    ...spec.settings,
  };
  const opts = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  try {
    await pgCtl(spec, ['-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
  } catch (err) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n') : '';
    throw new OperationError(`The ${spec.name} PostgreSQL server did not start on port ${spec.port}.`, {
      cause: err,
      details: [tail.trim()],
    });
  }
}

function quoteForOption(value: string): string {
  if (/[\s'"\\]/.test(value))
    throw new ConfigError(`The folder ${value} contains spaces or quotes; choose another STACK_DIR.`);
  return value;
}

/** Stops the server (fast shutdown: open sessions are rolled back). */
export async function stopServer(spec: ServerSpec): Promise<void> {
  if (!(await isRunning(spec))) return;
  await pgCtl(spec, ['-m', 'fast', '-w', '-t', '60', 'stop']);
}

/** URL for a role on this server. */
export function serverUrl(spec: ServerSpec, database = 'postgres', user = 'postgres'): string {
  return `postgresql://${user}:${encodeURIComponent(spec.password)}@127.0.0.1:${spec.port}/${database}`;
}

/**
 * Creates the Supabase-like `postgres` role (NOSUPERUSER, BYPASSRLS, CREATEDB, CREATEROLE) and hands
 * it the `postgres` database and its public schema. Idempotent.
 */
export async function preparePostgresRole(spec: ServerSpec): Promise<void> {
  await withClient(serverUrl(spec, 'postgres', 'supabase_admin'), async (c) => {
    const { rowCount } = await c.query(`select 1 from pg_roles where rolname = 'postgres'`);
    if (!rowCount) {
      await c.query(
        `create role postgres login nosuperuser createdb createrole replication bypassrls password ${quoteLiteral(spec.password)}`,
      );
    }
    await c.query('alter database postgres owner to postgres');
    await c.query('alter schema public owner to postgres');
  });
}
