/**
 * The only door to the database: scoped clients, transactions and advisory locks. Every function
 * releases what it takes in `finally`; there is no module-level pool.
 */
import pg from 'pg';
import { ConfigError, CrmEnvError, OperationError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';

export type Client = pg.Client;

export interface ConnectOptions {
  /** Human label used in error messages ("local", "cloud"). */
  readonly label?: string;
  readonly connectTimeoutMs?: number;
}

/** Opens a client. Connection failures become one clear sentence without the password (exit 2). */
export async function connect(url: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'crm-env',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // An idle client whose server goes away emits 'error'; without a listener Node would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectionError(err, url, options.label);
  }
  return client;
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
 * Holds a session-level advisory lock around `fn`. Fails fast (exit 1) when another crm-env run holds
 * it, rather than queueing behind it.
 */
export async function withAdvisoryLock<T>(
  client: pg.Client,
  lock: keyof typeof LOCKS,
  fn: () => Promise<T>,
  busyMessage: string,
): Promise<T> {
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [
    LOCK_NAMESPACE,
    LOCKS[lock],
  ]);
  if (!rows[0]?.ok) throw new OperationError(busyMessage);
  try {
    return await fn();
  } finally {
    await client
      .query('select pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCKS[lock]])
      .catch(() => undefined);
  }
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

/** Turns a failure to connect into a one-sentence {@link ConfigError} that never shows a password. */
export function connectionError(err: unknown, url: string, label = 'database'): CrmEnvError {
  if (err instanceof CrmEnvError) return err;
  const shown = redactUrl(url);
  const code = pgFields(err).code ?? (err as NodeJS.ErrnoException | undefined)?.code;
  const raw = err instanceof Error ? err.message : String(err);
  const msg = redactText(raw);
  switch (code) {
    case '28P01':
    case '28000':
      return new ConfigError(`Cannot sign in to the ${label} database ${shown}: wrong user or password.`, {
        cause: err,
      });
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
    default:
      if (/timeout/i.test(raw)) {
        return new ConfigError(`Cannot reach the ${label} database ${shown}: connection timed out.`, {
          cause: err,
        });
      }
      return new ConfigError(`Cannot connect to the ${label} database ${shown}: ${msg}`, { cause: err });
  }
}
