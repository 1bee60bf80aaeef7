/**
 * The only door to the database: scoped clients, transactions and advisory locks. Every function
 * releases what it takes in `finally`; there is no module-level pool.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import pg from 'pg';
import { ConfigError, CrmEnvError, OperationError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';
import type { ConnInfo, SslAttempt } from './conn-string.js';
import {
  ConnStringError,
  DEFAULT_CONNECT_TIMEOUT_S,
  effectiveSslMode,
  parseConnString,
  sslAttempts,
} from './conn-string.js';

export type Client = pg.Client;

export interface ConnectOptions {
  /** Human label used in error messages ("local", "cloud"). */
  readonly label?: string;
  readonly connectTimeoutMs?: number;
  /** Refuse a transaction pooler (see {@link assertOwnSession}); the locked helpers always do. */
  readonly ownSession?: boolean;
}

/** Where each open client came from, so that {@link assertOwnSession} can open a second one. */
const origins = new WeakMap<pg.Client, { url: string; label: string | undefined }>();

function clientConfig(info: ConnInfo, ssl: SslAttempt, options: ConnectOptions): pg.ClientConfig {
  return {
    host: info.host,
    port: info.port,
    user: info.user ?? undefined,
    password: info.password || undefined,
    database: info.database ?? info.user ?? undefined,
    ssl,
    options: info.options ?? undefined,
    application_name: info.applicationName ?? 'crm-env',
    connectionTimeoutMillis:
      options.connectTimeoutMs ?? (info.connectTimeout || DEFAULT_CONNECT_TIMEOUT_S) * 1000,
  };
}

/** True when a TLS attempt failed in a way libpq's `prefer` answers by trying without TLS. */
function tlsRefused(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return (
    /does not support SSL|establishing an SSL connection/i.test(e?.message ?? '') ||
    /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO|EPROTO)/.test(e?.code ?? '')
  );
}

/**
 * Opens a client with libpq's sslmode semantics (see {@link sslAttempts}). Connection failures become
 * one clear sentence without the password (exit 2).
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<pg.Client> {
  let info: ConnInfo;
  try {
    info = parseConnString(url);
  } catch (err) {
    if (!(err instanceof ConnStringError)) throw err;
    throw new ConfigError(`The ${options.label ?? 'database'} URL is not valid: it ${err.message}.`);
  }
  const client = await open(info, url, options);
  origins.set(client, { url, label: options.label });
  if (options.ownSession) {
    try {
      await assertOwnSession(client);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }
  return client;
}

/**
 * Servers (host:port) that answered this process's TLS request with "no TLS here". With sslmode=prefer
 * libpq would go on in plain text on the same connection; node-postgres cannot, so the next connection
 * to such a server skips the refused request (one round trip less) and opens in plain text directly.
 */
const refusedTls = new Set<string>();

async function open(info: ConnInfo, url: string, options: ConnectOptions): Promise<pg.Client> {
  const server = `${info.host}:${info.port}`;
  const all = sslAttempts(info);
  const preferRefused = all.length === 2 && all[1] === false && refusedTls.has(server);
  const attempts = preferRefused ? [false as const] : all;
  let failure: unknown;
  for (const [i, ssl] of attempts.entries()) {
    const client = new pg.Client(clientConfig(info, ssl, options));
    // An idle client whose server goes away emits 'error'; without a listener Node would crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      failure = err;
      if (ssl !== false && /does not support SSL/i.test((err as Error)?.message ?? ''))
        refusedTls.add(server);
      // prefer: TLS refused → plain; allow: plain refused by pg_hba (hostssl only) → TLS.
      const retry = ssl === false ? pgFields(err).code === '28000' : tlsRefused(err);
      if (attempts[i + 1] === undefined || !retry) break;
    }
  }
  throw await connectFailure(failure, info, url, options.label);
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  const client = await connect(url, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TransactionOptions {
  readonly isolation?: 'read committed' | 'repeatable read' | 'serializable';
  readonly readOnly?: boolean;
}

/** BEGIN … COMMIT around `fn`; ROLLBACK on any error (the error is rethrown). */
export async function withTransaction<T>(
  client: pg.Client,
  fn: () => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const mode = [
    options.isolation ? `isolation level ${options.isolation}` : '',
    options.readOnly ? 'read only' : '',
  ]
    .filter(Boolean)
    .join(' ');
  await client.query(`begin ${mode}`);
  try {
    const result = await fn();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Advisory lock keys. Two 32-bit keys: the first names crm-env ("CRME" in ASCII), the second the
 * operation, so they never collide with other tools' single-bigint locks.
 */
export const LOCK_NAMESPACE = 0x43524d45;
export const LOCKS = { sync: 1, migrate: 2, restore: 3, reset: 4, seed: 5 } as const;

/**
 * Refuses a connection through a transaction pooler (pgbouncer or Supavisor in transaction mode),
 * where session advisory locks, session settings and pg_dump do not work: each transaction may run on
 * another server session. Detected by behaviour, whatever the port: a second connection opened now
 * must not be handed the server session this client is using — a pooler in session mode, like a
 * direct connection, never does; one in transaction mode hands out the session just released.
 * Inconclusive (second connection refused or slow) counts as not pooled. `ownPid`: this client's
 * pg_backend_pid() as its last query read it (saves a round trip; it must be the last query's).
 * `probe`: the second connection, opened ahead by {@link openSessionProbe} (its opener ends it).
 * @throws ConfigError (exit 2) naming the session pooler and the direct host.
 */
export async function assertOwnSession(
  client: pg.Client,
  ownPid?: number,
  probe?: Promise<pg.Client | null>,
): Promise<void> {
  const origin = origins.get(client);
  if (origin === undefined) return;
  const pid = async (c: pg.Client): Promise<number> =>
    (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  const mine = ownPid ?? (await pid(client));
  const second = await (probe ?? openSessionProbe(client));
  let other: number | null = null;
  try {
    other = second ? await pid(second).catch(() => null) : null;
  } finally {
    // A probe opened ahead belongs to its opener, who ends it.
    if (probe === undefined) await second?.end().catch(() => undefined);
  }
  if (other !== mine) return;
  throw new ConfigError(
    `The ${origin.label ?? 'database'} database ${redactUrl(origin.url)} is behind a transaction pooler (a second connection shared this one's server session), where session locks and pg_dump cannot work: use Supabase's session pooler (port 5432, user postgres.<project-ref>) or the direct host db.<project-ref>.supabase.co.`,
  );
}

/**
 * The second connection {@link assertOwnSession} compares `client` with, opened ahead so that its
 * sign-in overlaps the caller's other work (the comparison itself still waits until `client` is idle:
 * only then would a transaction pooler hand out its server session). Null when it cannot connect
 * (inconclusive). The caller ends it.
 */
export function openSessionProbe(client: pg.Client): Promise<pg.Client | null> {
  const origin = origins.get(client);
  if (origin === undefined) return Promise.resolve(null);
  return connect(origin.url, { label: origin.label, connectTimeoutMs: 10_000 }).catch(() => null);
}

/**
 * Holds a session-level advisory lock around `fn`. Fails fast (exit 1) when another crm-env run holds
 * it, rather than queueing behind it; refuses a transaction pooler first ({@link assertOwnSession}),
 * where the lock would protect nothing (`ownPid`: see {@link assertOwnSession}).
 */
export async function withAdvisoryLock<T>(
  client: pg.Client,
  lock: keyof typeof LOCKS,
  fn: (unlock: AdvisoryUnlock) => Promise<T>,
  busyMessage: string,
  ownPid?: number,
): Promise<T> {
  await assertOwnSession(client, ownPid);
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [
    LOCK_NAMESPACE,
    LOCKS[lock],
  ]);
  if (!rows[0]?.ok) throw new OperationError(busyMessage);
  return holdAdvisoryLock(client, lock, fn);
}

/** SQLSTATE of crm-env's own, raised by {@link withAdvisoryLockTakenBy}'s statement when the lock is held. */
const LOCK_BUSY_STATE = 'CRMLK';

/**
 * {@link withAdvisoryLock} with the lock taken by the caller's first query (one round trip less):
 * `fn` gets `take`, a statement it sends FIRST in its first query on `client`. When another session
 * holds the lock, `take` raises and the server skips the rest of that query, so nothing else runs;
 * that error becomes OperationError(busyMessage). Refuses a transaction pooler first, as
 * withAdvisoryLock does (`own`: the client's pid and a probe opened ahead, see {@link assertOwnSession}).
 */
export async function withAdvisoryLockTakenBy<T>(
  client: pg.Client,
  lock: keyof typeof LOCKS,
  fn: (take: string, unlock: AdvisoryUnlock) => Promise<T>,
  busyMessage: string,
  own: { readonly pid?: number; readonly probe?: Promise<pg.Client | null> } = {},
): Promise<T> {
  await assertOwnSession(client, own.pid, own.probe);
  const key = `${LOCK_NAMESPACE}, ${LOCKS[lock]}`;
  const take = `do $crm_env$ begin if not pg_try_advisory_lock(${key}) then raise exception 'advisory lock (${key}) is held by another session' using errcode = '${LOCK_BUSY_STATE}'; end if; end $crm_env$`;
  let busy = false;
  try {
    return await holdAdvisoryLock(client, lock, (unlock) =>
      fn(take, unlock).catch((err: unknown) => {
        // Not taken: nothing to release.
        if (pgFields(err).code === LOCK_BUSY_STATE) {
          busy = true;
          unlock.sent();
        }
        throw err;
      }),
    );
  } catch (err) {
    if (busy) throw new OperationError(busyMessage, { cause: err });
    throw err;
  }
}

/** Runs `fn` holding `lock` (taken already, or by fn's first query), releasing it unless `fn` did. */
async function holdAdvisoryLock<T>(
  client: pg.Client,
  lock: keyof typeof LOCKS,
  fn: (unlock: AdvisoryUnlock) => Promise<T>,
): Promise<T> {
  let released = false;
  const unlock: AdvisoryUnlock = {
    sql: `select pg_advisory_unlock(${LOCK_NAMESPACE}, ${LOCKS[lock]})`,
    sent: () => {
      released = true;
    },
  };
  try {
    return await fn(unlock);
  } finally {
    if (!released)
      await client
        .query('select pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCKS[lock]])
        .catch(() => undefined);
  }
}

/**
 * The release of a lock taken by {@link withAdvisoryLock}, for a caller that sends it along with its
 * last statements (one round trip less): `sql` appended to a simple query, then `sent()` once that
 * query succeeded; otherwise the lock is released as usual when the function returns.
 */
export interface AdvisoryUnlock {
  readonly sql: string;
  sent(): void;
}

export interface LockedClientOptions extends ConnectOptions {
  readonly lock: keyof typeof LOCKS;
  /** The sentence shown when another crm-env run holds the lock. */
  readonly busyMessage: string;
}

/** client → advisory lock → `fn`: the one way commands take a database for themselves. */
export async function withLockedClient<T>(
  url: string,
  options: LockedClientOptions,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  return withClient(
    url,
    (client) => withAdvisoryLock(client, options.lock, () => fn(client), options.busyMessage),
    options,
  );
}

/** client → advisory lock → transaction → `fn`; ROLLBACK on any error, COMMIT otherwise. */
export async function withLockedTransaction<T>(
  url: string,
  options: LockedClientOptions,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  return withLockedClient(url, options, (client) => withTransaction(client, () => fn(client)));
}

/** Server error fields that node-postgres attaches to errors. */
export interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export function pgFields(err: unknown): PgErrorFields {
  return typeof err === 'object' && err !== null ? (err as PgErrorFields) : {};
}

const UNREACHABLE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

/** Error codes of `err` and, for a failed multi-address connect (AggregateError), of each attempt. */
function errorCodes(err: unknown): string[] {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined;
  return [
    e?.code,
    ...(Array.isArray(e?.errors) ? e.errors.map((x) => (x as { code?: unknown }).code) : []),
  ].filter((c): c is string => typeof c === 'string');
}

/** True when `host` has IPv6 addresses only (an IPv6 literal, or a name without any A record). */
export async function onlyIPv6(host: string): Promise<boolean> {
  if (net.isIP(host) !== 0) return net.isIP(host) === 6;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => a.family === 6);
  } catch {
    return false;
  }
}

/**
 * {@link connectionError}, plus the one case that needs a DNS lookup: a network error towards a host
 * that has only IPv6 addresses (Supabase's direct host db.<ref>.supabase.co, from an IPv4-only network
 * such as GitHub's runners).
 */
async function connectFailure(
  err: unknown,
  info: ConnInfo,
  url: string,
  label = 'database',
): Promise<CrmEnvError> {
  const network =
    errorCodes(err).some((c) => UNREACHABLE.has(c)) || /timeout/i.test((err as Error)?.message ?? '');
  if (network && !info.host.startsWith('/') && (await onlyIPv6(info.host))) {
    return new ConfigError(
      `Cannot reach the ${label} database ${redactUrl(url)}: its host has only IPv6 addresses and this network cannot reach them; use Supabase's session pooler instead (Dashboard → Connect → Session pooler: port 5432, user postgres.<project-ref>), which has IPv4.`,
      { cause: err },
    );
  }
  return connectionError(err, url, label, effectiveSslMode(info));
}

/** Turns a failure to connect into a one-sentence {@link ConfigError} that never shows a password. */
export function connectionError(
  err: unknown,
  url: string,
  label = 'database',
  sslmode?: string,
): CrmEnvError {
  if (err instanceof CrmEnvError) return err;
  const shown = redactUrl(url);
  const codes = errorCodes(err);
  const code = pgFields(err).code ?? codes[0];
  const raw = err instanceof Error ? err.message : String(err);
  const msg = redactText(raw);
  if (/does not support SSL/i.test(raw)) {
    return new ConfigError(
      `The ${label} database ${shown} does not accept SSL connections, which sslmode=${sslmode ?? 'require'} asks for: turn SSL on at the server, or use sslmode=prefer.`,
      { cause: err },
    );
  }
  if (code !== undefined && /^(ERR_TLS_CERT|CERT_|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO)/.test(code)) {
    const what =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'its certificate does not name this host (sslmode=verify-full checks the name; verify-ca does not)'
        : 'its certificate is not signed by the CA in sslrootcert';
    return new ConfigError(
      `Cannot connect to the ${label} database ${shown}: ${what} (${code}); for Supabase, sslrootcert must be the CA file from Dashboard → Database settings → SSL Configuration.`,
      { cause: err },
    );
  }
  switch (code) {
    case '28P01':
    case '28000':
      return new ConfigError(
        `Cannot sign in to the ${label} database ${shown}: ${code === '28000' && /no encryption|SSL off/i.test(raw) ? 'the server only accepts SSL connections (remove sslmode=disable)' : 'wrong user or password'}.`,
        {
          cause: err,
        },
      );
    case '3D000':
      return new ConfigError(`The ${label} database ${shown} does not exist.`, { cause: err });
    case 'ECONNREFUSED':
      return new ConfigError(
        `Cannot reach the ${label} database ${shown}: connection refused (is the server running? \`npm run stack:up\` starts the local one).`,
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`Cannot reach the ${label} database ${shown}: unknown host.`, { cause: err });
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EADDRNOTAVAIL':
      return new ConfigError(
        `Cannot reach the ${label} database ${shown}: the network cannot reach its host (${code}).`,
        { cause: err },
      );
    default:
      if (/timeout/i.test(raw)) {
        return new ConfigError(`Cannot reach the ${label} database ${shown}: connection timed out.`, {
          cause: err,
        });
      }
      return new ConfigError(`Cannot connect to the ${label} database ${shown}: ${msg}`, { cause: err });
  }
}
