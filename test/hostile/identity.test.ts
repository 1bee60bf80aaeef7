/**
 * Hostile class: the same database spelt differently, for every command that writes. LOCAL_DATABASE_URL
 * names the cloud database another way; every command refuses before its first change (exit 2, one
 * sentence), and the cloud — the only database there is — keeps every table's content and gets no
 * backup written. Spellings that URL text cannot tell apart reach the server-identity preflight; the
 * ones the configuration already catches (LOCALHOST, a percent-encoded name) are refused there.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/connect.js';
import { createTestDatabase, superuserUrl } from '../support/db.js';
import { asSuperuser } from '../support/fixtures.js';
import {
  contentOf,
  envFor,
  expectOneClearSentence,
  PENDING_MIGRATION,
  project,
  removeTempFolders,
  runCli,
  seededDatabase,
} from './support.js';
import type { Via } from './support.js';

afterAll(removeTempFolders);

type Spelling = (url: URL, socketDir: string) => string;

const SPELLINGS: Readonly<Record<string, Spelling>> = {
  '127.1': (u) => with_(u, (x) => (x.hostname = '127.1')),
  'decimal IPv4 2130706433': (u) => with_(u, (x) => (x.hostname = '2130706433')),
  'a socket folder in ?host= behind another host and port': (u, socket) =>
    with_(u, (x) => {
      const port = x.port;
      x.hostname = 'localhost';
      x.port = '1';
      x.search = `?host=${encodeURIComponent(socket)}&port=${port}`;
    }),
};

function with_(u: URL, change: (x: URL) => void): string {
  const x = new URL(u.toString());
  change(x);
  return x.toString();
}

const COMMANDS: Readonly<Record<string, (file: string) => string[]>> = {
  'sync push': () => ['sync', 'push', '--force'],
  reset: () => ['reset', '--yes'],
  'users create': () => ['users', 'create'],
  'restore --target local': (file) => ['restore', file, '--target', 'local', '--yes', '--legacy'],
  'migrate deploy local': () => ['migrate', 'deploy', 'local', '--yes'],
  'migrate up': () => ['migrate', 'up'],
};

/** Through the CLI process for one spelling per command family; the rest run the same code in-process. */
const THROUGH_CLI = new Set([
  'sync push/127.1',
  'reset/a socket folder in ?host= behind another host and port',
  'migrate up/decimal IPv4 2130706433',
]);
const viaFor = (command: string, spelling: string): Via =>
  THROUGH_CLI.has(`${command}/${spelling}`) ? 'cli' : 'library';

let socketDir = '';
beforeAll(async () => {
  const any = await createTestDatabase({ server: 'cloud', template: 'empty' });
  socketDir = await withClient(superuserUrl(any), async (c) => {
    const { rows } = await c.query<{ d: string }>(`select current_setting('unix_socket_directories') as d`);
    return rows[0]!.d.split(',')[0]!.trim();
  });
});

/** One case: a cloud with real data, LOCAL_DATABASE_URL spelling it another way, the command refused. */
async function refusedBeforeAnyChange(
  command: string,
  localSpelling: (cloud: string) => string,
  via: Via,
  prepare?: (cloud: string) => Promise<void>,
): Promise<void> {
  const cloud = await seededDatabase('cloud', { tag: 'cloud', realUserSales: true });
  await prepare?.(cloud);
  const before = await contentOf(cloud);
  const dir = project(command.startsWith('migrate') ? PENDING_MIGRATION : {});
  const file = path.join(dir, 'backup.sql');
  writeFileSync(file, 'DROP TABLE IF EXISTS public.tasks CASCADE;\n');
  const r = await runCli(
    COMMANDS[command]!(file),
    dir,
    envFor(dir, { local: localSpelling(cloud), cloud }),
    via,
  );
  expect(r.code, r.stderr).toBe(2);
  expectOneClearSentence(r.stderr);
  expect(await contentOf(cloud)).toEqual(before);
  expect(existsSync(path.join(dir, 'backups'))).toBe(false);
}

describe('the same database spelt differently × every command that writes', () => {
  const cases = Object.keys(COMMANDS).flatMap((command) =>
    Object.keys(SPELLINGS).map((spelling) => ({ command, spelling, via: viaFor(command, spelling) })),
  );
  it.concurrent.each(cases)(
    '$command with local = cloud as $spelling ($via)',
    async ({ command, spelling, via }) => {
      await refusedBeforeAnyChange(command, (cloud) => SPELLINGS[spelling]!(new URL(cloud), socketDir), via);
    },
  );

  it.concurrent.each(['sync push', 'reset'])(
    '%s with local = cloud as 127.1, on a server that revoked pg_control_system() (identity from the postmaster)',
    async (command) => {
      await refusedBeforeAnyChange(
        command,
        (cloud) => SPELLINGS['127.1']!(new URL(cloud), socketDir),
        'library',
        async (cloud) => {
          await asSuperuser(cloud, (c) =>
            c.query('revoke execute on function pg_control_system() from public'),
          );
        },
      );
    },
  );

  it.concurrent.each([
    ['LOCALHOST', (u: URL) => with_(u, (x) => (x.hostname = 'LOCALHOST'))],
    [
      'a percent-encoded database name',
      (u: URL) =>
        with_(u, (x) => (x.pathname = `/%${x.pathname.charCodeAt(1).toString(16)}${x.pathname.slice(2)}`)),
    ],
  ] as const)('reset with local = cloud as %s (caught by the configuration)', async (_name, spell) => {
    await refusedBeforeAnyChange('reset', (cloud) => spell(new URL(cloud)), 'library');
  });
});

describe('server identity (the library)', () => {
  it('falls back to the postmaster when pg_control_system() is revoked, and still tells databases apart', async () => {
    const [a, b] = await Promise.all([
      createTestDatabase({ server: 'cloud', template: 'empty' }),
      createTestDatabase({ server: 'cloud', template: 'empty' }),
    ]);
    await asSuperuser(a, (c) => c.query('revoke execute on function pg_control_system() from public'));
    const { serverIdentity, sameDatabase } = await import('../../src/preflight/identity.js');
    const [ia, ia2, ib] = await Promise.all([
      withClient(a, serverIdentity),
      withClient(SPELLINGS['127.1']!(new URL(a), socketDir), serverIdentity),
      withClient(b, serverIdentity),
    ]);
    expect(ia.systemId).toBeNull();
    expect(ib.systemId).toMatch(/^\d+$/);
    expect(sameDatabase(ia, ia2)).toBe(true);
    expect(sameDatabase(ia, ib)).toBe(false);
  });
});
