/**
 * libpq's sslmode semantics, the same for the driver and for pg_dump, against a real server whose
 * certificate comes from a private CA made here with openssl (as Supabase's chains to Supabase's own
 * CA). The server accepts TCP connections over SSL only (pg_hba `hostssl`), so every success proves
 * the connection was encrypted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { runPgDump } from '../src/db/pg-dump.js';
import { runCliAsync, tempProject } from './support/cli.js';
import { urlFor } from './support/db.js';
import type { ExtraServer } from './support/extra-server.js';
import { startExtraServer, writeServerFile } from './support/extra-server.js';

/** A CA, a server certificate it signs (for `localhost` only), and an unrelated CA. */
function makeCertificates(dir: string): Record<string, string> {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=crm-env test CA',
  );
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'other.key',
    '-out',
    'other.crt',
    '-days',
    '2',
    '-subj',
    '/CN=other CA',
  );
  ssl('req', ...ec, '-keyout', 'server.key.tmp', '-out', 'server.csr', '-subj', '/CN=db.crm-env.test');
  writeServerFile(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,DNS:db.crm-env.test\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  writeServerFile(path.join(dir, 'server.key'), readFileSync(path.join(dir, 'server.key.tmp'), 'utf8'));
  writeServerFile(path.join(dir, 'server.crt.pem'), readFileSync(path.join(dir, 'server.crt'), 'utf8'));
  return {
    ssl: 'on',
    ssl_cert_file: path.join(dir, 'server.crt.pem'),
    ssl_key_file: path.join(dir, 'server.key'),
  };
}

const HBA = [
  'local all all trust',
  'hostssl all all 127.0.0.1/32 scram-sha-256',
  'hostssl all all ::1/128 scram-sha-256',
  '',
].join('\n');

describe('sslmode and sslrootcert, through the driver and pg_dump', () => {
  let server: ExtraServer;
  const project = tempProject();

  beforeAll(async () => {
    server = await startExtraServer({ password: 'ssl-test-pw-1', hba: HBA, prepare: makeCertificates });
  });
  afterAll(async () => server?.stop());

  /** The cloud URL for a case: `host` and the query string. */
  const cloudUrl = (host: string, query: string): string =>
    `postgresql://postgres:ssl-test-pw-1@${host}:${server.spec.port}/postgres?${query}`;
  const ca = (file: 'ca' | 'other'): string => path.join(server.dir, `${file}.crt`);
  const envFor = (host: string, query: string): Record<string, string> => ({
    LOCAL_DATABASE_URL: urlFor('local', 'postgres'),
    DATABASE_URL_PRODUCTION: cloudUrl(host, query),
    STACK_DIR: path.join(project, '.crm-env'),
  });

  /** [name, host, query, works]: libpq's answer for each mode against this server. */
  const cases = (): [string, string, string, boolean][] => [
    ['disable: plain, refused by hostssl', '127.0.0.1', 'sslmode=disable', false],
    ['allow: plain refused, then TLS', '127.0.0.1', 'sslmode=allow', true],
    ['prefer (also the default): TLS', '127.0.0.1', 'application_name=x', true],
    ['require: TLS, certificate not checked', '127.0.0.1', 'sslmode=require', true],
    [
      'require + sslrootcert of another CA: checked, refused',
      '127.0.0.1',
      `sslmode=require&sslrootcert=${ca('other')}`,
      false,
    ],
    [
      'verify-ca: the CA, whatever the host name',
      '127.0.0.1',
      `sslmode=verify-ca&sslrootcert=${ca('ca')}`,
      true,
    ],
    [
      'verify-ca with another CA: refused',
      '127.0.0.1',
      `sslmode=verify-ca&sslrootcert=${ca('other')}`,
      false,
    ],
    ['verify-full: CA and host name', 'localhost', `sslmode=verify-full&sslrootcert=${ca('ca')}`, true],
    [
      'verify-full, a name the certificate lacks: refused',
      '127.0.0.1',
      `sslmode=verify-full&sslrootcert=${ca('ca')}`,
      false,
    ],
  ];

  it('each mode: a backup-taking command (driver, then pg_dump) exits 0 or 2 as libpq decides', async () => {
    const results = await Promise.all(
      cases().map(async ([name, host, query, works]) => {
        const r = await runCliAsync(['migrate', 'backup', 'cloud', '--json'], {
          cwd: project,
          env: envFor(host, query),
        });
        const file = r.code === 0 ? (JSON.parse(r.stdout) as { file: string }).file : '';
        return {
          name,
          code: r.code,
          expected: works ? 0 : 2,
          written: file !== '' && existsSync(path.resolve(project, file)),
        };
      }),
    );
    for (const r of results) {
      expect({ name: r.name, code: r.code, written: r.written }).toEqual({
        name: r.name,
        code: r.expected,
        written: r.expected === 0,
      });
    }
  });

  it('the driver and pg_dump alone agree on every mode; a reading command works with require and verify-full', async () => {
    const bin = {
      path: path.join(inject('pgServers').local.binDir, 'pg_dump'),
      version: '',
      major: 0,
      source: 'PG_BIN' as const,
    };
    for (const [name, host, query, works] of cases()) {
      const url = cloudUrl(host, query);
      const driver = await withClient(
        url,
        async (c) =>
          (await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0]?.ssl === true,
      ).catch(() => false);
      const sink = new Writable({ write: (_c, _e, done) => done() });
      const pgDump = await runPgDump({ bin, url, flags: ['--schema-only'], output: sink, inherited: {} })
        .then(() => true)
        .catch(() => false);
      expect({ name, driver, pgDump }).toEqual({ name, driver: works, pgDump: works });
    }
    for (const [host, query] of [
      ['127.0.0.1', 'sslmode=require'],
      ['localhost', `sslmode=verify-full&sslrootcert=${ca('ca')}`],
    ] as const) {
      const read = await runCliAsync(
        ['migrate', 'validate', '--target', 'cloud', '--no-rehearsal', '--json'],
        {
          cwd: project,
          env: envFor(host, query),
        },
      );
      expect(read.code).toBe(0);
    }
  });

  it('a server without SSL and sslmode=require: exit 2, nothing else', async () => {
    const plain = `${urlFor('cloud', 'postgres')}?sslmode=require`;
    const dir = tempProject();
    const r = await runCliAsync(['migrate', 'backup', 'cloud'], {
      cwd: dir,
      env: {
        DATABASE_URL_PRODUCTION: plain,
        STACK_DIR: path.join(dir, '.crm-env'),
        LOCAL_DATABASE_URL: urlFor('local', 'postgres'),
      },
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(dir, 'backups'))).toBe(false);
  });
});
