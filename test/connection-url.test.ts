/**
 * Connection URLs in every shape a user pastes: one parse (the driver's parser), the same connection
 * settings for the driver and for pg_dump's environment, and no fragment of the password in any
 * message, shown URL or redacted text. No server needed.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import {
  childEnv,
  displayConnString,
  formatConnString,
  libpqEnv,
  parseConnString,
  sslAttempts,
} from '../src/db/conn-string.js';
import { ConfigError } from '../src/errors.js';
import { redactText, redactUrl } from '../src/redact.js';
import { tempDir } from './support/tmp.js';

/** Every character that needs care in a URL, between distinctive fragments. */
const P = 'Kx9T/Wv3R Zr7Q@Lm4P#Np8S%Hj2U?Bc5V:Ds6W+Fq1Y';
const FRAGMENTS = P.split(/[^A-Za-z0-9]/);
const enc = encodeURIComponent(P);
const HOST = 'db.example.test:5433/crm';

/** Fails when any fragment of the password is in `text`. */
function expectNoSecret(text: string): void {
  for (const f of [...FRAGMENTS, enc]) expect(text).not.toContain(f);
}

/** The shapes that parse, each with password P. */
const GOOD: Record<string, string> = {
  'percent-encoded': `postgresql://postgres:${enc}@${HOST}`,
  '?password=': `postgres://postgres@${HOST}?password=${enc}&sslmode=require`,
  'raw space and @, the rest encoded': `postgresql://postgres:${P.replace(/[/#%?+]/g, encodeURIComponent)}@${HOST}`,
  '?host= ?port= ?dbname= ?user=': `postgresql://:${enc}@/?host=db.example.test&port=5433&dbname=crm&user=postgres`,
};

/** Shapes that cannot be read; each must be refused without a fragment of the password. */
const BAD: Record<string, string> = {
  'raw /, # and ?': `postgresql://postgres:${P}@${HOST}`,
  'raw / with a numeric start': `postgresql://postgres:12/${FRAGMENTS[1]}@${HOST}`,
  'cut at # (unquoted .env)': `postgresql://postgres:${P.split('#')[0]!.replace(/[/ @]/g, '')}`,
  'two hosts': `postgresql://postgres:${enc}@h1:5432,h2:5432/crm`,
};

function configFrom(files: Record<string, string>, env: Record<string, string> = {}): unknown {
  const dir = tempDir('url');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  try {
    return loadConfig({ cwd: dir, env: { STACK_DIR: path.join(dir, '.crm-env'), ...env } });
  } catch (err) {
    return err;
  }
}

describe('connection URLs', () => {
  it.each(Object.entries(GOOD))('%s: same settings for the driver and pg_dump, password found', (_, url) => {
    const info = parseConnString(url);
    expect(info).toMatchObject({ host: 'db.example.test', port: 5433, user: 'postgres', password: P });
    expect(info.database).toBe('crm');
    const env = libpqEnv(info);
    expect(env).toMatchObject({
      PGHOST: 'db.example.test',
      PGPORT: '5433',
      PGPASSWORD: P,
      PGDATABASE: 'crm',
    });
    // Round trip: the canonical URL reads back the same.
    expect(parseConnString(formatConnString(info))).toEqual(info);
    expectNoSecret(displayConnString(info));
    expectNoSecret(redactUrl(url));
    const config = configFrom({}, { DATABASE_URL_PRODUCTION: url }) as { secrets: string[] };
    expect(config.secrets).toContain(P);
    expectNoSecret(redactText(`failed: ${url} (password=${enc}) ${P}`, config.secrets));
  });

  it.each(Object.entries(BAD))('%s: refused in one sentence that quotes nothing', (_, url) => {
    expect(() => parseConnString(url)).toThrow();
    const err = configFrom({}, { DATABASE_URL_PRODUCTION: url });
    expect(err).toBeInstanceOf(ConfigError);
    expectNoSecret(`${(err as Error).message} ${redactUrl(url)} ${redactText(url)}`);
  });

  it('reads .env files: quoted values keep every character, an unquoted # is named without echoing', () => {
    const quoted = `postgresql://postgres:${P.replace(/[/#%?+]/g, encodeURIComponent)}@${HOST}`;
    const ok = configFrom({ '.env.production': `DATABASE_URL_PRODUCTION="${quoted}"\n` });
    expect((ok as { secrets: string[] }).secrets).toContain(P);
    for (const text of [
      `DATABASE_URL_PRODUCTION=postgresql://postgres:${P}@${HOST}\n`,
      `DATABASE_URL_PRODUCTION="postgresql://postgres:${P}@${HOST}"\n`,
      `export DATABASE_URL_PRODUCTION=postgresql://postgres:${enc.replace('%23', '#')}@${HOST}\n`,
    ]) {
      const err = configFrom({ '.env.production': text });
      expect(err).toBeInstanceOf(ConfigError);
      expectNoSecret((err as Error).message);
    }
    // A comment after a blank is a comment, not a cut password.
    const commented = configFrom({
      '.env.production': `DATABASE_URL_PRODUCTION=${GOOD['percent-encoded']} # prod\n`,
    });
    expect((commented as { secrets: string[] }).secrets).toContain(P);
  });

  it('accepts libpq forms: options, bare %, Unix-socket hosts, IPv6; a + is a plus', () => {
    const info = parseConnString(
      'postgresql://u:50%off+x@[::1]:6000/db?options=-c%20statement_timeout%3D5min&application_name=ci',
    );
    expect(info).toMatchObject({ host: '::1', password: '50%off+x', options: '-c statement_timeout=5min' });
    expect(libpqEnv(info)).toMatchObject({ PGOPTIONS: '-c statement_timeout=5min', PGAPPNAME: 'ci' });
    expect(parseConnString(formatConnString(info))).toEqual(info);
    for (const url of [
      'postgresql://u@%2Fvar%2Frun%2Fpostgresql/db',
      'postgresql:///db?host=/var/run/postgresql&user=u',
    ]) {
      const socket = parseConnString(url);
      expect(socket).toMatchObject({ host: '/var/run/postgresql', database: 'db', user: 'u' });
      expect(libpqEnv(socket).PGSSLMODE).toBe('disable'); // libpq never uses TLS on a socket
      expect(parseConnString(formatConnString(socket))).toEqual(socket);
    }
  });

  it('maps sslmode to libpq’s order of attempts; uselibpqcompat and pgbouncer never reach pg_dump', () => {
    const modes = (mode: string): unknown[] =>
      sslAttempts(parseConnString(`postgresql://u:p@h/db?sslmode=${mode}&uselibpqcompat=true`)).map((a) =>
        a === false ? 'plain' : a.rejectUnauthorized ? 'verified' : 'tls',
      );
    expect(modes('disable')).toEqual(['plain']);
    expect(modes('allow')).toEqual(['plain', 'tls']);
    expect(modes('prefer')).toEqual(['tls', 'plain']);
    expect(modes('require')).toEqual(['tls']);
    expect(sslAttempts(parseConnString('postgresql://u@h/db'))).toHaveLength(2); // default: prefer
    const env = childEnv(
      { PATH: '/bin', PGHOST: 'elsewhere', PGSERVICE: 'x', PGPASSFILE: '/p', DATABASE_URL_PRODUCTION: 'x' },
      libpqEnv(parseConnString('postgresql://u:p@h/db?uselibpqcompat=true&sslmode=require')),
    );
    expect(env).toMatchObject({ PATH: '/bin', PGHOST: 'h', PGSSLMODE: 'require', PGPASSFILE: '/p' });
    expect(
      Object.keys(env).filter(
        (k) =>
          !/^(PATH|PG(HOST|PORT|USER|PASSWORD|DATABASE|SSLMODE|APPNAME|CONNECT_TIMEOUT|PASSFILE))$/.test(k),
      ),
    ).toEqual([]);
  });

  it('refuses bad parameters, verify-* without a CA, an unreadable CA and the transaction pooler', () => {
    for (const url of [
      'postgresql://u:p@h/db?sslmode=no-verify',
      'postgresql://u:p@h/db?sslmode=verify-full',
      'postgresql://u:p@h/db?sslmode=verify-ca',
      'postgresql://u:p@h/db?sslmode=require&sslrootcert=/nonexistent/ca.crt',
      'postgresql://u:p@h/db?connect_timeout=soon',
      'postgresql://u:p@h:99999/db',
    ]) {
      expect(() => parseConnString(url), url).toThrow();
    }
    for (const url of [
      'postgresql://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com:6543/postgres',
      'postgresql://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com:5432/postgres?pgbouncer=true',
    ]) {
      expect(configFrom({}, { DATABASE_URL_PRODUCTION: url })).toBeInstanceOf(ConfigError);
    }
    expect(
      configFrom(
        {},
        {
          DATABASE_URL_PRODUCTION:
            'postgresql://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com:5432/postgres',
        },
      ),
    ).not.toBeInstanceOf(Error);
  });

  it('sees the same database behind different spellings', () => {
    const err = configFrom(
      {},
      {
        LOCAL_DATABASE_URL: 'postgresql://postgres:a@localhost:5432/crm',
        DATABASE_URL_PRODUCTION: 'postgres://postgres@127.0.0.1/crm?password=b',
      },
    );
    expect(err).toBeInstanceOf(ConfigError);
  });
});
