/**
 * Hostile classes: test-user identity conflicts for every command that writes test users, and real
 * users' data. Test users can never be real people: an account outside the test domain holding a test
 * user's id makes users create (any target), sync push and reset refuse (exit 1, nothing changed). A
 * non-test user with an identity and CRM rows on the cloud survives push, reset and users create
 * byte-identical, or the command refuses before any change; removing their rows takes the explicit
 * --delete-non-test-data, and even then their auth rows stay byte-identical.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { withClient } from '../../src/db/connect.js';
import { syncPush } from '../../src/dev/sync.js';
import { testUserSpecs } from '../../src/dev/test-users.js';
import { testConfig } from '../support/config.js';
import type { FixtureUser } from '../support/fixtures.js';
import { exec, insertAuthUser, passwordHash, REAL_USER } from '../support/fixtures.js';
import {
  contentOfAll,
  envFor,
  expectOneClearSentence,
  project,
  removeTempFolders,
  runCli,
  seededPair,
} from './support.js';

afterAll(removeTempFolders);

/** The ids users create and reset give the three test users (UUIDv5 of the default emails). */
const SPEC_IDS = testUserSpecs(loadConfig({ cwd: '/nonexistent-crm-env-project', env: {} })).map((s) => s.id);
/** The fixture's test users carry the ids users create derives, so a push carries exactly those. */
const SPEC_USERS: readonly FixtureUser[] = [
  { id: SPEC_IDS[0]!, email: 'admin@test.local', role: 'admin' },
  { id: SPEC_IDS[1]!, email: 'director@test.local', role: 'sales_director' },
  { id: SPEC_IDS[2]!, email: 'manager@test.local', role: 'account_manager' },
];

/** A real person's account holding the id `id` (and its email identity). */
async function realAccountWithId(url: string, id: string): Promise<void> {
  await withClient(url, (c) =>
    insertAuthUser(c, { id, email: 'jane@company.example' }, passwordHash('x', 'jane')),
  );
}

/**
 * Everything of the real user on `url`, as text: the auth row, the identities, the sales row and every
 * row that names them in sales_id or created_by.
 */
async function realUserFootprint(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows: tables } = await c.query<{ t: string; col: string }>(
      `select format('%I.%I', table_schema, table_name) as t, column_name as col from information_schema.columns
        where table_schema = 'public' and column_name in ('sales_id', 'created_by') and data_type = 'uuid' order by 1`,
    );
    const parts = [
      `select 'auth.users' as t, u::text as r from auth.users u where id = $1`,
      `select 'auth.identities', i::text from auth.identities i where user_id = $1`,
      `select 'sales', s::text from public.sales s where id = $1`,
      ...tables.map((x) => `select '${x.t}', r::text from ${x.t} r where ${x.col} = $1`),
    ];
    const { rows } = await c.query<{ t: string; r: string }>(`${parts.join(' union all ')} order by 1, 2`, [
      REAL_USER.id,
    ]);
    return rows.map((r) => `${r.t}: ${r.r}`);
  });
}

async function pair(options: { localReal?: boolean; cloudRealRows?: boolean } = {}) {
  return seededPair({
    local: { tag: 'local', testUsers: SPEC_USERS, realUser: options.localReal ?? false },
    cloud: { tag: 'cloud', testUsers: SPEC_USERS, realUserSales: options.cloudRealRows ?? false },
  });
}

describe('test-user identity conflicts × every command that writes test users: exit 1, nothing changed', () => {
  const CASES = [
    {
      name: 'users create (local), a real account holds the admin id locally',
      on: 'local',
      args: ['users', 'create'],
    },
    {
      name: 'users create --target cloud, a real account holds the admin id',
      on: 'cloud',
      args: ['users', 'create', '--target', 'cloud'],
    },
    {
      name: 'users create <url>, a real account holds the admin id there',
      on: 'cloud',
      args: ['users', 'create', '$CLOUD'],
    },
    {
      name: 'sync push, a real cloud account holds a carried test user id',
      on: 'cloud',
      args: ['sync', 'push', '--force'],
    },
    { name: 'reset, a real cloud account holds a test user id', on: 'cloud', args: ['reset', '--yes'] },
    { name: 'reset, a real local account holds a test user id', on: 'local', args: ['reset', '--yes'] },
  ] as const;
  it.concurrent.each(CASES)('$name', async ({ on, args }) => {
    // The account holding the id is the only one with it: the fixture's admin gets another id.
    const others = SPEC_USERS.map((u, i) =>
      i === 0 ? { ...u, id: 'a0000000-0000-4000-8000-0000000000f1' } : u,
    );
    const urls = await seededPair({
      local: { tag: 'local', testUsers: on === 'local' ? others : SPEC_USERS, realUser: false },
      cloud: { tag: 'cloud', testUsers: on === 'cloud' ? others : SPEC_USERS },
    });
    await realAccountWithId(urls[on], SPEC_IDS[0]!);
    const before = await contentOfAll([urls.local, urls.cloud]);
    const dir = project();
    const r = await runCli(
      args.map((a) => (a === '$CLOUD' ? urls.cloud : a)),
      dir,
      envFor(dir, urls),
      args[0] === 'sync' ? 'cli' : 'library',
    );
    expect(r.code, r.stderr).toBe(1);
    expectOneClearSentence(r.stderr);
    expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
  });

  it.concurrent('users create, a real account owns the email identity of a test user id', async () => {
    const urls = await seededPair({ local: { tag: 'local', testUsers: [SPEC_USERS[0]!], realUser: true } });
    await exec(
      urls.local,
      `insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
       values ($1, $2, jsonb_build_object('sub', $1::text), 'email', now(), now())`,
      [SPEC_IDS[2], REAL_USER.id],
    );
    const before = await contentOfAll([urls.local]);
    const dir = project();
    const r = await runCli(['users', 'create'], dir, envFor(dir, urls), 'library');
    expect(r.code, r.stderr).toBe(1);
    expectOneClearSentence(r.stderr);
    expect(await contentOfAll([urls.local])).toEqual(before);
  });
});

describe('a non-test user with an identity and CRM rows on the cloud', () => {
  it.concurrent(
    'sync push refuses (exit 1, nothing changed) and --json lists the rows and their owner',
    async () => {
      const urls = await pair({ cloudRealRows: true });
      const before = await contentOfAll([urls.local, urls.cloud]);
      const dir = project();
      const r = await runCli(['sync', 'push', '--force', '--json'], dir, envFor(dir, urls));
      expect(r.code, r.stderr).toBe(1);
      expectOneClearSentence(r.stderr);
      const json = JSON.parse(r.stdout) as {
        ok: boolean;
        nonTestData: {
          database: string;
          users: { email: string }[];
          tables: { table: string; rows: number; keys: string[] }[];
        }[];
      };
      expect(json.ok).toBe(false);
      const cloud = json.nonTestData.find((d) => d.database === 'cloud')!;
      expect(cloud.users.map((u) => u.email)).toEqual([REAL_USER.email]);
      const byTable = Object.fromEntries(cloud.tables.map((t) => [t.table, t.rows]));
      // The fixture gives the real user a sales row and rows in every owned table.
      expect(byTable).toMatchObject({ sales: 1, organizations: 1, contacts: 2, opportunities: 2, deals: 1 });
      expect(cloud.tables.find((t) => t.table === 'sales')!.keys).toEqual([JSON.stringify([REAL_USER.id])]);
      expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
    },
  );

  it.concurrent(
    'sync push --delete-non-test-data removes the rows (backed up) and leaves the auth user byte-identical',
    async () => {
      const urls = await pair({ cloudRealRows: true });
      const footprint = await realUserFootprint(urls.cloud);
      const dir = project();
      const r = await runCli(
        ['sync', 'push', '--force', '--delete-non-test-data'],
        dir,
        envFor(dir, urls),
        'library',
      );
      expect(r.code, r.stderr).toBe(0);
      const after = await realUserFootprint(urls.cloud);
      expect(after).toEqual(footprint.filter((l) => l.startsWith('auth.')));
      expect(after.length).toBeGreaterThanOrEqual(2);
    },
  );

  it.concurrent(
    'sync push without the flag goes through when local holds the same rows: the user is byte-identical',
    async () => {
      const urls = await pair({ cloudRealRows: true });
      // Local gets the cloud's data, the real user's rows included (a push the other way, chosen).
      const reverse = testConfig({ local: urls.cloud, cloud: urls.local });
      await withClient(urls.local, (c) =>
        insertAuthUser(c, REAL_USER, passwordHash('local', REAL_USER.email)),
      );
      await syncPush(reverse, { force: true, deleteNonTestData: true });
      const footprint = await realUserFootprint(urls.cloud);
      const dir = project();
      const r = await runCli(['sync', 'push', '--force'], dir, envFor(dir, urls), 'library');
      expect(r.code, r.stderr).toBe(0);
      expect(await realUserFootprint(urls.cloud)).toEqual(footprint);
    },
  );

  it.concurrent('reset refuses (exit 1): neither database changes', async () => {
    const urls = await pair({ cloudRealRows: true });
    const before = await contentOfAll([urls.local, urls.cloud]);
    const dir = project();
    const r = await runCli(['reset', '--yes'], dir, envFor(dir, urls), 'library');
    expect(r.code, r.stderr).toBe(1);
    expectOneClearSentence(r.stderr);
    expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
  });

  it.concurrent(
    'reset --delete-non-test-data: the rows go (backed up), the auth user stays byte-identical',
    async () => {
      const urls = await pair({ cloudRealRows: true });
      const footprint = await realUserFootprint(urls.cloud);
      const dir = project();
      const r = await runCli(['reset', '--yes', '--delete-non-test-data'], dir, envFor(dir, urls), 'library');
      expect(r.code, r.stderr).toBe(0);
      expect(await realUserFootprint(urls.cloud)).toEqual(footprint.filter((l) => l.startsWith('auth.')));
    },
  );

  it.concurrent(
    'users create --target cloud leaves the real user and all their rows byte-identical',
    async () => {
      const urls = await pair({ cloudRealRows: true });
      // The fixture inserts tags with explicit ids; move the counter past them as a real seed would.
      await exec(urls.cloud, `select setval(pg_get_serial_sequence('public.tags', 'id'), 100)`);
      const footprint = await realUserFootprint(urls.cloud);
      const dir = project();
      const r = await runCli(['users', 'create', '--target', 'cloud'], dir, envFor(dir, urls), 'library');
      expect(r.code, r.stderr).toBe(0);
      expect(await realUserFootprint(urls.cloud)).toEqual(footprint);
    },
  );

  it.concurrent(
    "users create refuses when a real user's row hangs off a test user's row it would replace",
    async () => {
      const urls = await pair({ cloudRealRows: true });
      // The real user's opportunity at the admin's organization: replacing the admin's rows would cascade.
      await exec(
        urls.cloud,
        `update public.opportunities set organization_id = (select id from public.organizations where sales_id = $1 limit 1)
        where sales_id = $2`,
        [SPEC_IDS[0], REAL_USER.id],
      );
      const before = await contentOfAll([urls.local, urls.cloud]);
      const dir = project();
      const r = await runCli(['users', 'create', '--target', 'cloud', '--json'], dir, envFor(dir, urls));
      expect(r.code, r.stderr).toBe(1);
      expectOneClearSentence(r.stderr);
      const json = JSON.parse(r.stdout) as { nonTestData: { tables: { table: string; rows: number }[] }[] };
      expect(json.nonTestData[0]!.tables.find((t) => t.table === 'opportunities')!.rows).toBe(2);
      expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
    },
  );
});
