/**
 * Connection URLs, read once the way the driver reads them (pg-connection-string, node-postgres' own
 * parser) into a {@link ConnInfo}, from which everything else is built: the driver's options with
 * libpq's `sslmode` semantics (node-postgres 8 reads `require` as full verification), the `PG*`
 * environment of pg_dump (nothing on its command line), the URL shown to people (password masked), and
 * URLs for another database or role of the same server.
 *
 * A URL that does not parse is never echoed: {@link ConnStringError} says what is wrong without quoting
 * the text, which may hold a password.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import { parse } from 'pg-connection-string';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Supabase's transaction pooler (Supavisor) listens on this port; its session pooler on 5432. */
export const TRANSACTION_POOLER_PORT = 6543;

export interface ConnInfo {
  /** Host name, IP address (IPv6 without brackets) or, starting with `/`, a Unix-socket folder. */
  readonly host: string;
  readonly port: number;
  /** Null: the default of libpq and node-postgres (the OS user name). */
  readonly user: string | null;
  /** '' when the URL has none (then ~/.pgpass may supply one). */
  readonly password: string;
  /** Null: the user name, as libpq does. */
  readonly database: string | null;
  /** As written; null = libpq's default, `prefer`. */
  readonly sslmode: SslMode | null;
  readonly sslrootcert: string | null;
  readonly sslcert: string | null;
  readonly sslkey: string | null;
  /** libpq's `options`, e.g. `-c statement_timeout=5min`. */
  readonly options: string | null;
  readonly applicationName: string | null;
  /** Seconds. */
  readonly connectTimeout: number | null;
  /** `pgbouncer=true` (the marker Prisma and Supabase's docs put on transaction-pooler URLs). */
  readonly pgbouncer: boolean;
}

/** What is wrong with a URL, in words that never quote it. */
export class ConnStringError extends Error {}

const SCHEME = /^postgres(?:ql)?:\/\//i;
const SLASH_BEFORE_AT =
  'has a / or ? in its user or password (before the @): percent-encode them there (/ as %2F, ? as %3F)';

/**
 * Parses a postgresql:// URL in every form libpq accepts (`?password=`, `?host=`, `?port=`, `?dbname=`,
 * `options`, percent-encoding, Unix-socket hosts) plus a raw space, `@` or bare `%` in the password.
 * @throws ConnStringError saying what is wrong, without the URL.
 */
/** Seconds a connection attempt may take when the URL sets no connect_timeout (libpq's own default is no limit). */
export const DEFAULT_CONNECT_TIMEOUT_S = 30;

export function parseConnString(text: string): ConnInfo {
  const trimmed = text.trim();
  if (trimmed === '') throw new ConnStringError('is empty');
  if (!SCHEME.test(trimmed))
    throw new ConnStringError(
      'must start with postgresql:// (key=value connection strings are not supported)',
    );
  if (trimmed.includes('#'))
    throw new ConnStringError('contains a #, which ends a URL: write a # in the password as %23');
  // A bare % and blanks are taken literally; a + stays a + (libpq does not read it as a space).
  const normalised = trimmed
    .replace(/%(?![0-9a-f]{2})/gi, '%25')
    .replace(/[\s+]/g, (c) => encodeURIComponent(c));
  const raw = driverParse(normalised);
  return fromDriver(raw);
}

type DriverResult = ReturnType<typeof parse>;

function driverParse(text: string): DriverResult {
  try {
    // libpq semantics (and no deprecation warning on stderr) unless the URL asks itself.
    return parse(text, /[?&]uselibpqcompat=/i.test(text) ? undefined : { useLibpqCompat: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.path === 'system')
      throw new ConnStringError(
        'has sslrootcert=system, which is not supported: give the path of the CA certificate file',
      );
    if (typeof e.path === 'string')
      throw new ConnStringError(
        `names the file ${e.path} (sslrootcert, sslcert or sslkey), which cannot be read (${e.code})`,
      );
    if (/sslmode=verify-ca requires/i.test(e.message)) throw new ConnStringError(needsRootCert('verify-ca'));
    throw new ConnStringError(shapeProblem(text));
  }
}

function needsRootCert(mode: SslMode): string {
  return `has sslmode=${mode} without sslrootcert: add sslrootcert=<path of the CA certificate file> (for Supabase, the file from Dashboard → Database settings → SSL Configuration)`;
}

/** Why a URL did not parse, from its shape only. */
function shapeProblem(text: string): string {
  const rest = text.replace(SCHEME, '');
  const at = rest.lastIndexOf('@');
  if (at >= 0 && /[/?]/.test(rest.slice(0, at))) return SLASH_BEFORE_AT;
  const authority = rest.slice(at + 1).split(/[/?]/)[0] ?? '';
  if (authority.includes(',')) return 'names several hosts, which crm-env does not support';
  const port = authority.replace(/^\[[^\]]*\]/, '').split(':')[1];
  if (at < 0 && port !== undefined && !/^\d*$/.test(port))
    return 'has no @ and its port is not a number: the password may have been cut short (in a .env file, an unquoted # starts a comment) or the user@ part is missing';
  if (port !== undefined && !/^\d*$/.test(port)) return 'has a port that is not a number';
  return 'is not of the form postgresql://user:password@host:port/database (percent-encode special characters in the password)';
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function fromDriver(raw: DriverResult): ConnInfo {
  const host = str(raw.host);
  if (host === null || host === '___DUMMY___')
    throw new ConnStringError('has no host (for a Unix socket, write ?host=/path/to/socket/folder)');
  const portText = str(raw.port) ?? '5432';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535)
    throw new ConnStringError('has a port that is not a number from 1 to 65535');
  const database = str(raw.database) ?? str(raw.dbname);
  if (database?.includes('@') || Object.keys(raw).some((k) => k.includes('@')))
    throw new ConnStringError(SLASH_BEFORE_AT);
  const sslmode = str(raw.sslmode);
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode))
    throw new ConnStringError(`has an sslmode that is not one of ${SSL_MODES.join(', ')}`);
  const sslrootcert = str(raw.sslrootcert);
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && sslrootcert === null)
    throw new ConnStringError(needsRootCert(sslmode));
  const timeout = str(raw.connect_timeout);
  if (timeout !== null && !/^\d+$/.test(timeout))
    throw new ConnStringError('has a connect_timeout that is not a whole number of seconds');
  return {
    host,
    port,
    user: str(raw.user),
    password: str(raw.password) ?? '',
    database,
    sslmode: sslmode as SslMode | null,
    sslrootcert,
    sslcert: str(raw.sslcert),
    sslkey: str(raw.sslkey),
    options: str(raw.options),
    applicationName: str(raw.application_name),
    connectTimeout: timeout === null ? null : Number(timeout),
    pgbouncer: str(raw.pgbouncer)?.toLowerCase() === 'true',
  };
}

/**
 * Every spelling of the URL's password that may turn up in text: decoded, percent-encoded, and as
 * written in the URL (in the user part or as `password=`), for literal redaction.
 */
export function passwordSpellings(url: string): string[] {
  const password = parseConnString(url).password;
  if (!password) return [];
  const rest = url.trim().replace(SCHEME, '');
  const at = rest.lastIndexOf('@');
  const colon = rest.indexOf(':');
  const written = [
    at > colon && colon >= 0 ? rest.slice(colon + 1, at) : '',
    /[?&]password=([^&]*)/i.exec(rest)?.[1] ?? '',
  ];
  return [...new Set([password, encodeURIComponent(password), ...written])].filter(Boolean);
}

export function isUnixSocket(info: ConnInfo): boolean {
  return info.host.startsWith('/');
}

/** The sslmode in force: libpq's default `prefer`; no TLS over a Unix socket (libpq never uses it there). */
export function effectiveSslMode(info: ConnInfo): SslMode {
  return isUnixSocket(info) ? 'disable' : (info.sslmode ?? 'prefer');
}

/** True for Supabase's transaction pooler as named by the URL (port 6543 or `pgbouncer=true`). */
export function namesTransactionPooler(info: ConnInfo): boolean {
  return info.pgbouncer || info.port === TRANSACTION_POOLER_PORT;
}

/** A key naming the database a URL points at, for "same database" checks before connecting. */
export function connKey(info: ConnInfo): string {
  const h = info.host.toLowerCase();
  const host = h === 'localhost' || h === '::1' ? '127.0.0.1' : h;
  return `${host}:${info.port}/${info.database ?? info.user ?? 'postgres'}`;
}

function build(info: ConnInfo, password: string, params: URLSearchParams): string {
  const host = isUnixSocket(info)
    ? encodeURIComponent(info.host)
    : info.host.includes(':')
      ? `[${info.host}]`
      : info.host;
  const user = info.user === null ? '' : encodeURIComponent(info.user);
  const auth = info.password ? `${user}:${password}@` : user ? `${user}@` : '';
  const db = info.database === null ? '' : encodeURI(info.database).replace(/[?#]/g, encodeURIComponent);
  // URLSearchParams writes a blank as +, which libpq (and parseConnString) read as a plus sign.
  const query = params.toString().replace(/\+/g, '%20');
  return `postgresql://${auth}${host}:${info.port}/${db}${query ? `?${query}` : ''}`;
}

/** The URL as shown to people: password `***`, only sslmode among the parameters. */
export function displayConnString(info: ConnInfo): string {
  const params = new URLSearchParams();
  if (info.sslmode !== null) params.set('sslmode', info.sslmode);
  return build(info, '***', params);
}

/** A complete URL for `info` (password included) that parses back to the same {@link ConnInfo}. */
export function formatConnString(info: ConnInfo): string {
  const params = new URLSearchParams();
  const add = (key: string, value: string | number | null): void => {
    if (value !== null) params.set(key, String(value));
  };
  add('sslmode', info.sslmode);
  add('sslrootcert', info.sslrootcert);
  add('sslcert', info.sslcert);
  add('sslkey', info.sslkey);
  add('options', info.options);
  add('application_name', info.applicationName);
  add('connect_timeout', info.connectTimeout);
  if (info.pgbouncer) params.set('pgbouncer', 'true');
  return build(info, encodeURIComponent(info.password), params);
}

/** The same server and credentials as `url`, another database and/or role. */
export function withConn(url: string, change: { database?: string; user?: string }): string {
  const info = parseConnString(url);
  return formatConnString({
    ...info,
    database: change.database ?? info.database,
    user: change.user ?? info.user,
  });
}

/**
 * The libpq environment for a child process (pg_dump, psql) to reach `info`: every connection
 * setting, the password included, as `PG*` variables (never on the command line, which any local user
 * can read), with the same sslmode the driver uses.
 */
export function libpqEnv(info: ConnInfo, applicationName = 'crm-env'): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGSSLMODE: effectiveSslMode(info),
    PGAPPNAME: info.applicationName ?? applicationName,
    PGCONNECT_TIMEOUT: String(info.connectTimeout || DEFAULT_CONNECT_TIMEOUT_S),
  };
  const optional: [string, string | null][] = [
    ['PGUSER', info.user],
    ['PGPASSWORD', info.password || null],
    ['PGDATABASE', info.database],
    ['PGSSLROOTCERT', info.sslrootcert],
    ['PGSSLCERT', info.sslcert],
    ['PGSSLKEY', info.sslkey],
    ['PGOPTIONS', info.options],
  ];
  for (const [k, v] of optional) if (v !== null) env[k] = v;
  return env;
}

/** Inherited variables a child keeps: where programs and home are, locale, time zone, temp folder. */
const INHERITED =
  /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|TEMP|TMP|SYSTEMROOT|WINDIR|PGPASSFILE)$/i;

/**
 * A child's environment: only {@link INHERITED} variables of ours (no stray PGHOST, PGSSLMODE or
 * PGSERVICE changing where or how it connects, no DATABASE_URL_* it has no use for), plus `libpq`
 * (from {@link libpqEnv}). PGPASSFILE stays: like ~/.pgpass it only supplies a password the URL lacks,
 * as it does for node-postgres.
 */
export function childEnv(
  inherited: Readonly<Record<string, string | undefined>>,
  libpq: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inherited)) if (v !== undefined && INHERITED.test(k)) env[k] = v;
  return { ...env, ...libpq };
}

/** One way of opening the connection: plain (false) or TLS with these options. */
export type SslAttempt = false | TlsOptions;

/**
 * libpq's sslmode as node-postgres `ssl` options, in the order libpq tries them: `disable` plain;
 * `allow` plain, then TLS; `prefer` TLS, then plain; `require` TLS without verification; `verify-ca`
 * the certificate must chain to sslrootcert (any host name); `verify-full` and the host name must match.
 * As in libpq, a given sslrootcert makes require/prefer/allow verify the CA too.
 */
export function sslAttempts(info: ConnInfo): SslAttempt[] {
  const mode = effectiveSslMode(info);
  if (mode === 'disable') return [false];
  const verify = mode === 'verify-full' ? 'full' : mode === 'verify-ca' || info.sslrootcert ? 'ca' : 'none';
  const tls: TlsOptions = { rejectUnauthorized: verify !== 'none' };
  if (info.sslrootcert !== null) tls.ca = readFileSync(info.sslrootcert, 'utf8');
  if (info.sslcert !== null) tls.cert = readFileSync(info.sslcert, 'utf8');
  if (info.sslkey !== null) tls.key = readFileSync(info.sslkey, 'utf8');
  if (verify === 'ca') tls.checkServerIdentity = () => undefined;
  if (mode === 'allow') return [false, tls];
  if (mode === 'prefer') return [tls, false];
  return [tls];
}
