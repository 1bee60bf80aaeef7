import { CRM_TABLES } from './support/fixtures.js';
/**
 * Step 3 acceptance: `createTestUsers` / `checkTestUsers` and `crm-env users create|check`, against
 * real PostgreSQL servers with the Supabase base schema and the CRM migrations. No mocks.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { readTables } from '../src/db/catalog.js';
import { checksumTables } from '../src/db/checksum.js';
import { withClient } from '../src/db/connect.js';
import type { TestUserSpec } from '../src/dev/test-users.js';
import { createTestUsers, testUserSpecs, volumesFor } from '../src/dev/test-users.js';
import type { UsersCheckReport } from '../src/dev/users-check.js';
import { checkTestUsers } from '../src/dev/users-check.js';
import { ConfigError } from '../src/errors.js';
import { runCli, tempProject } from './support/cli.js';
import { testConfig } from './support/config.js';
import { createDatabasePair, createTestDatabase } from './support/db.js';
import { DNS_NAMESPACE, uuidV5 } from './support/uuid.js';

const tmp = (): string => tempProject();

/** The volumes of the spec (create-test-users.sh), per role. */
const SPEC_COUNTS = {
  admin: { organizations: 50, contacts: 100, opportunities: 75, activities: 200, products: 100 },
  sales_director: { organizations: 30, contacts: 60, opportunities: 40, activities: 120, products: 0 },
  account_manager: { organizations: 20, contacts: 40, opportunities: 25, activities: 80, products: 0 },
} as const;

/** Password full of SQL and shell metacharacters: it must travel as data, never as SQL text. */
const HOSTILE_PASSWORD = `p'); drop table x; -- "quoted" O'Brien \\ back\\slash \\' $1 %s`;

/** Per-table `rows:checksum` of every public table. */
async function publicChecksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const sums = await checksumTables(c, await readTables(c, 'public'));
    return Object.fromEntries(sums.map((s) => [s.table, `${s.rows}:${s.checksum}`]));
  });
}

/** Rows actually stored per test user, keyed like test_user_metadata.test_data_counts. */
async function storedCounts(
  url: string,
  ids: readonly string[],
): Promise<Map<string, Record<string, number>>> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ id: string } & Record<string, number>>(
      `select s.id::text as id,
              (select count(*)::int from public.organizations t where t.sales_id = s.id) as organizations,
              (select count(*)::int from public.contacts t where t.sales_id = s.id) as contacts,
              (select count(*)::int from public.opportunities t where t.sales_id = s.id) as opportunities,
              (select count(*)::int from public.activities t where t.sales_id = s.id) as activities,
              (select count(*)::int from public.tasks t where t.sales_id = s.id) as tasks,
              (select count(*)::int from public."contactNotes" t where t.sales_id = s.id) as notes,
              (select count(*)::int from public.products t where t.created_by = s.id) as products,
              (select count(*)::int from public.deals t where t.sales_id = s.id) as deals,
              (select count(*)::int from public."dealNotes" t where t.sales_id = s.id) as "dealNotes"
         from public.sales s where s.id = any($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map(({ id, ...counts }) => [id, counts]));
  });
}

/** Whole rows (as jsonb) of auth.users and auth.identities for the given user ids. */
async function authRows(url: string, ids: readonly string[]): Promise<unknown[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ u: unknown; i: unknown }>(
      `select to_jsonb(u) as u,
              (select jsonb_agg(to_jsonb(i) order by i.provider, i.provider_id) from auth.identities i where i.user_id = u.id) as i
         from auth.users u where u.id = any($1::uuid[]) order by u.id`,
      [ids],
    );
    return rows;
  });
}

/** What `uuidgen -s -n @dns -N <name>` (util-linux) prints, or null when uuidgen is not installed. */
function uuidgen(name: string): string | null {
  const r = spawnSync('uuidgen', ['-s', '-n', '@dns', '-N', name], { encoding: 'utf8' });
  if (r.error) return null;
  if (r.status !== 0) throw new Error(`uuidgen exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}
const HAS_UUIDGEN = uuidgen('probe.test') !== null;

/** The ids as literals: what `uuidgen -s -n @dns -N <email>` and Python's uuid.uuid5(NAMESPACE_DNS, email) give. */
const PINNED_IDS = {
  'admin@test.local': '2c4a3829-90f4-5a08-8774-b9ac6c40faf4',
  'director@test.local': 'c48e72ea-db69-553a-b68c-d59aa87e7dd3',
  'account.manager@test.local': '26360875-d153-5f7f-ad25-313490a7419a',
};

function userReport(report: UsersCheckReport, spec: TestUserSpec) {
  const u = report.users.find((x) => x.email === spec.email);
  if (!u) throw new Error(`no check result for ${spec.email}`);
  return u;
}

function byRole(specs: readonly TestUserSpec[], role: TestUserSpec['role']): TestUserSpec {
  return specs.find((s) => s.role === role)!;
}

// Independent blocks run concurrently (each on its own databases) to keep the file fast; the tests of
// the first block share one database and run in order.
describe.concurrent('users create on a database that has another (non-test) user', () => {
  const OUTSIDER = 'aaaaaaaa-0000-4000-8000-000000000001';
  const OUTSIDER_ORG = 'aaaaaaaa-0000-4000-8000-000000000002';
  let url: string;
  let config: Config;
  let specs: TestUserSpec[];
  let outsiderBefore: unknown;
  let first: Awaited<ReturnType<typeof createTestUsers>>;

  const outsiderRows = (): Promise<unknown> =>
    withClient(url, async (c) => {
      const { rows } = await c.query(
        `select (select to_jsonb(u) from auth.users u where u.id = $1) as auth_user,
                (select jsonb_agg(to_jsonb(i)) from auth.identities i where i.user_id = $1) as identities,
                (select to_jsonb(s) from public.sales s where s.id = $1) as sales,
                (select jsonb_agg(to_jsonb(o) order by o.id) from public.organizations o where o.sales_id = $1) as organizations`,
        [OUTSIDER],
      );
      return rows[0];
    });

  beforeAll(async () => {
    url = await createTestDatabase();
    // A mixed-case configured email: it must be stored (and hashed into the id) lowercased.
    config = testConfig({ local: url, env: { TEST_MANAGER_EMAIL: 'Account.Manager@Test.LOCAL' } });
    specs = testUserSpecs(config);
    await withClient(url, async (c) => {
      await c.query(
        `insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at, created_at, updated_at,
                                 raw_app_meta_data, raw_user_meta_data, confirmation_token, recovery_token, email_change_token_new, email_change)
         values ($1, '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', 'real.person@example.com',
                 extensions.crypt('their own password', extensions.gen_salt('bf')), '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z',
                 '2025-01-01T00:00:00Z', '{"provider":"email","providers":["email"]}', '{"full_name":"Real Person"}', '', '', '', '')`,
        [OUTSIDER],
      );
      await c.query(
        `insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
         values ($1::text, $1::uuid, jsonb_build_object('sub', $1::text, 'email', 'real.person@example.com'), 'email', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
        [OUTSIDER],
      );
      await c.query(
        `insert into public.sales (id, first_name, last_name, email, role, created_at, updated_at)
         values ($1, 'Real', 'Person', 'real.person@example.com', 'account_manager', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
        [OUTSIDER],
      );
      await c.query(
        `insert into public.organizations (id, name, sales_id, created_at, updated_at)
         values ($1, 'Real Customer Bistro', $2, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
        [OUTSIDER_ORG, OUTSIDER],
      );
    });
    outsiderBefore = await outsiderRows();
    first = await createTestUsers(config, config.local);
  });

  it.sequential('creates the three users; check passes', async () => {
    expect(first.users.map((u) => [u.role, u.email])).toEqual([
      ['admin', 'admin@test.local'],
      ['sales_director', 'director@test.local'],
      ['account_manager', 'account.manager@test.local'],
    ]);
    const report = await checkTestUsers(config, config.local);
    expect(report.users.map((u) => ({ email: u.email, problems: u.problems }))).toEqual(
      specs.map((s) => ({ email: s.email, problems: [] })),
    );
    expect(report.ok).toBe(true);
  });

  it.sequential(
    'gives each role the spec volumes, and test_user_metadata records what was inserted',
    async () => {
      const counts = await storedCounts(
        url,
        specs.map((s) => s.id),
      );
      for (const s of specs) {
        expect({ role: s.role, ...counts.get(s.id) }).toMatchObject({ role: s.role, ...SPEC_COUNTS[s.role] });
      }
      const total = (key: string): number => specs.reduce((n, s) => n + counts.get(s.id)![key]!, 0);
      expect(total('notes')).toBe(150);
      expect(total('tasks')).toBe(75);

      const { rows: meta } = await withClient(url, (c) =>
        c.query<{ user_id: string; role: string; test_data_counts: Record<string, number> }>(
          `select user_id::text, role, test_data_counts from public.test_user_metadata where user_id = any($1::uuid[])`,
          [specs.map((s) => s.id)],
        ),
      );
      expect(meta).toHaveLength(3);
      for (const s of specs) {
        const m = meta.find((r) => r.user_id === s.id)!;
        expect(m.role).toBe(s.role);
        // Every key of the metadata equals count(*) per owner in the database, and vice versa.
        expect(m.test_data_counts).toEqual(counts.get(s.id));
        expect(first.users.find((u) => u.id === s.id)!.counts).toEqual(counts.get(s.id));
      }
    },
  );

  it.sequential("ids are UUIDv5(email, DNS namespace), computed here without the code's uuid library", () => {
    expect(Object.fromEntries(specs.map((s) => [s.email, s.id]))).toEqual(PINNED_IDS);
    for (const s of specs) expect(s.id, s.email).toBe(uuidV5(s.email, DNS_NAMESPACE));
  });

  it.skipIf(!HAS_UUIDGEN).sequential('ids are exactly what `uuidgen -s -n @dns -N <email>` prints', () => {
    for (const s of specs) expect(s.id, s.email).toBe(uuidgen(s.email));
  });

  it.sequential('meets every sign-in precondition GoTrue has (supabase-facts §1.3)', async () => {
    const { rows } = await withClient(url, (c) =>
      c.query(
        `select u.id::text, u.instance_id::text, u.aud, u.role, u.email, u.email_confirmed_at is not null as confirmed,
                u.confirmation_token, u.recovery_token, u.email_change_token_new, u.email_change,
                u.encrypted_password = extensions.crypt($2, u.encrypted_password) as password_ok,
                left(u.encrypted_password, 4) as hash_prefix, u.raw_app_meta_data, u.is_sso_user,
                (select jsonb_agg(jsonb_build_object('provider', i.provider, 'provider_id', i.provider_id,
                                                     'sub', i.identity_data ->> 'sub', 'email', i.identity_data ->> 'email'))
                   from auth.identities i where i.user_id = u.id) as identities
           from auth.users u where u.id = any($1::uuid[]) order by u.email`,
        [specs.map((s) => s.id), config.testUsers.password],
      ),
    );
    expect(rows).toHaveLength(3);
    for (const s of specs) {
      const u = rows.find((r) => r.id === s.id);
      expect(u).toEqual({
        id: s.id,
        instance_id: '00000000-0000-0000-0000-000000000000',
        aud: 'authenticated',
        role: 'authenticated',
        email: s.email.toLowerCase(),
        confirmed: true,
        confirmation_token: '',
        recovery_token: '',
        email_change_token_new: '',
        email_change: '',
        password_ok: true,
        hash_prefix: '$2a$',
        raw_app_meta_data: expect.objectContaining({ provider: 'email', providers: ['email'] }),
        is_sso_user: false,
        identities: [{ provider: 'email', provider_id: s.id, sub: s.id, email: s.email }],
      });
    }
  });

  it.sequential(
    'a second run changes nothing: same checksums for every public table, same auth rows, outsider untouched',
    async () => {
      const ids = specs.map((s) => s.id);
      const sumsBefore = await publicChecksums(url);
      const authBefore = await authRows(url, ids);
      expect(await outsiderRows()).toEqual(outsiderBefore);

      await createTestUsers(config, config.local);

      expect(await publicChecksums(url)).toEqual(sumsBefore);
      const authAfter = await authRows(url, ids);
      expect(authAfter).toEqual(authBefore);
      // The hash in particular is kept (a fresh bcrypt salt would change it).
      expect(
        (authAfter as { u: { encrypted_password: string } }[]).map((r) => r.u.encrypted_password),
      ).toEqual((authBefore as { u: { encrypted_password: string } }[]).map((r) => r.u.encrypted_password));
      expect(await outsiderRows()).toEqual(outsiderBefore);
      // users check changes nothing either (its RLS probes are rolled back).
      expect((await checkTestUsers(config, config.local)).ok).toBe(true);
      expect(await publicChecksums(url)).toEqual(sumsBefore);
      expect(await authRows(url, ids)).toEqual(authBefore);
      // The outsider is really there (a vacuous comparison would prove nothing).
      expect(outsiderBefore).toMatchObject({
        auth_user: { email: 'real.person@example.com' },
        sales: { role: 'account_manager' },
        organizations: [{ id: OUTSIDER_ORG, name: 'Real Customer Bistro' }],
      });
    },
  );
});

describe.concurrent('determinism across databases', () => {
  it('the same SEED on the local and the cloud server gives identical checksums; another SEED differs', async () => {
    const [{ local, cloud }, other] = await Promise.all([
      createDatabasePair(),
      createTestDatabase({ server: 'local' }),
    ]);
    const seeded = (u: string, seed: string): Config => testConfig({ local: u, env: { SEED: seed } });
    const cLocal = seeded(local, 'acceptance-seed');
    const cCloud = seeded(cloud, 'acceptance-seed');
    const cOther = seeded(other, 'another-seed');
    await Promise.all([cLocal, cCloud, cOther].map((c) => createTestUsers(c, c.local)));
    const [a, b, d] = await Promise.all([
      publicChecksums(local),
      publicChecksums(cloud),
      publicChecksums(other),
    ]);

    expect(Object.keys(a).sort()).toEqual(expect.arrayContaining([...CRM_TABLES]));
    expect(b).toEqual(a);
    expect(Object.values(a).every((v) => !v.startsWith('0:'))).toBe(true);

    // Another seed: every generated table differs, and so does test_user_metadata (how many deals and
    // deal notes follow from the opportunities depends on the seed). The users (ids from emails) and
    // the fixed segment/tag catalogue are the same by design.
    const differing = Object.keys(a)
      .filter((t) => a[t] !== d[t])
      .sort();
    expect(differing).toEqual([
      'activities',
      'contactNotes',
      'contacts',
      'dealNotes',
      'deals',
      'opportunities',
      'organizations',
      'products',
      'tasks',
      'test_user_metadata',
    ]);
    expect([d.sales, d.segments, d.tags]).toEqual([a.sales, a.segments, a.tags]);
  });
});

describe.concurrent('users check catches what would break sign-in or roles', () => {
  it('reports the user and the reason for each breakage, and users create repairs them', async () => {
    const url = await createTestDatabase();
    const config = testConfig({ local: url });
    const specs = testUserSpecs(config);
    const admin = byRole(specs, 'admin');
    const director = byRole(specs, 'sales_director');
    const manager = byRole(specs, 'account_manager');
    await createTestUsers(config, config.local);
    const check = (c: Config = config): Promise<UsersCheckReport> => checkTestUsers(c, c.local);
    const sql = (text: string, params: unknown[]): Promise<unknown> =>
      withClient(url, (c) => c.query(text, params));

    // 1. confirmation_token NULL → GoTrue's "Database error querying schema".
    await sql(`update auth.users set confirmation_token = null where id = $1`, [director.id]);
    let r = await check();
    expect(r.ok).toBe(false);
    expect(userReport(r, director)).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('confirmation_token')],
    });
    expect([userReport(r, admin).ok, userReport(r, manager).ok]).toEqual([true, true]);
    await sql(`update auth.users set confirmation_token = '' where id = $1`, [director.id]);
    expect((await check()).ok).toBe(true);

    // 2. email_confirmed_at NULL → "Email not confirmed".
    await sql(`update auth.users set email_confirmed_at = null where id = $1`, [admin.id]);
    r = await check();
    expect(r.ok).toBe(false);
    expect(userReport(r, admin)).toMatchObject({
      ok: false,
      problems: [expect.any(String)], // one problem, this user's only
    });
    expect([userReport(r, director).ok, userReport(r, manager).ok]).toEqual([true, true]);
    await sql(`update auth.users set email_confirmed_at = now() where id = $1`, [admin.id]);
    expect((await check()).ok).toBe(true);

    // 3. TEST_USER_PASSWORD differs at check time → no user verifies.
    const rotated = testConfig({ local: url, env: { TEST_USER_PASSWORD: 'SomethingElse456!' } });
    r = await check(rotated);
    expect(r.ok).toBe(false);
    for (const s of specs)
      expect(userReport(r, s)).toMatchObject({ ok: false, problems: [expect.any(String)] });
    // users create with the new password re-hashes it; then the old one no longer verifies.
    await createTestUsers(rotated, rotated.local);
    expect((await check(rotated)).ok).toBe(true);
    expect((await check()).users.map((u) => u.ok)).toEqual([false, false, false]);
    await createTestUsers(config, config.local);
    expect((await check()).ok).toBe(true);

    // 4. The manager's sales role made 'admin' → wrong role (RLS would give it everything).
    await sql(`update public.sales set role = 'admin' where id = $1`, [manager.id]);
    r = await check();
    expect(r.ok).toBe(false);
    expect(userReport(r, manager)).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/\badmin\b.*\baccount_manager\b/)], // the role found and the one expected
    });
    expect([userReport(r, admin).ok, userReport(r, director).ok]).toEqual([true, true]);

    // All at once (plus the token), then a re-run of users create puts everything right.
    await sql(
      `update auth.users set confirmation_token = null, email_confirmed_at = null where id = any($1::uuid[])`,
      [specs.map((s) => s.id)],
    );
    expect((await check()).users.every((u) => !u.ok)).toBe(true);
    await createTestUsers(config, config.local);
    expect(await check()).toMatchObject({ ok: true });
  });

  it('reports every other GoTrue precondition it checks, and users create repairs them all', async () => {
    const url = await createTestDatabase();
    const config = testConfig({ local: url });
    const specs = testUserSpecs(config);
    const ids = specs.map((s) => s.id);
    await createTestUsers(config, config.local);
    // [what breaks, SQL that breaks it for user $1 ($2 = the password), the column, table or value the
    // problem must name (null: nothing to name)]. Each breakage is one problem, told apart from the
    // others' (the two identity breakages excepted: both are "no complete email identity").
    const breakages: [string, string, string | null][] = [
      ['instance_id NULL', `update auth.users set instance_id = null where id = $1`, 'instance_id'],
      ['aud anon', `update auth.users set aud = 'anon' where id = $1`, 'anon'],
      ['email upper-case', `update auth.users set email = upper(email) where id = $1`, 'email'],
      ['recovery_token NULL', `update auth.users set recovery_token = null where id = $1`, 'recovery_token'],
      [
        'reauthentication_token NULL',
        `update auth.users set reauthentication_token = null where id = $1`,
        'reauthentication_token',
      ],
      ['created_at NULL', `update auth.users set created_at = null where id = $1`, 'created_at'],
      [
        'md5-crypt hash of the right password',
        `update auth.users set encrypted_password = extensions.crypt($2, extensions.gen_salt('md5')) where id = $1`,
        'encrypted_password',
      ],
      ['banned', `update auth.users set banned_until = now() + interval '1 day' where id = $1`, null],
      ['soft-deleted', `update auth.users set deleted_at = now() where id = $1`, null],
      ['SSO user', `update auth.users set is_sso_user = true where id = $1`, 'is_sso_user'],
      ['no provider', `update auth.users set raw_app_meta_data = '{}' where id = $1`, 'raw_app_meta_data'],
      ['identity missing', `delete from auth.identities where user_id = $1`, 'auth.identities'],
      [
        'identity timestamps NULL',
        `update auth.identities set updated_at = null where user_id = $1`,
        'auth.identities',
      ],
    ];
    const breakUser = (c: Parameters<Parameters<typeof withClient>[1]>[0], sql: string, id: string) =>
      c.query(sql, sql.includes('$2') ? [id, config.testUsers.password] : [id]);
    const snapshot = await withClient(url, async (c) => {
      const u = await c.query(`select to_jsonb(u) as row from auth.users u where id = any($1::uuid[])`, [
        ids,
      ]);
      const i = await c.query(
        `select to_jsonb(i) as row from auth.identities i where user_id = any($1::uuid[])`,
        [ids],
      );
      return { users: u.rows.map((r) => r.row as object), identities: i.rows.map((r) => r.row as object) };
    });
    const restore = (c: Parameters<Parameters<typeof withClient>[1]>[0]) =>
      c.query(
        `with u as (
           update auth.users t set instance_id = r.instance_id, aud = r.aud, email = r.email, encrypted_password = r.encrypted_password,
                  recovery_token = r.recovery_token, reauthentication_token = r.reauthentication_token, created_at = r.created_at,
                  banned_until = r.banned_until, deleted_at = r.deleted_at, is_sso_user = r.is_sso_user, raw_app_meta_data = r.raw_app_meta_data
             from jsonb_populate_recordset(null::auth.users, $1) r where t.id = r.id),
         d as (delete from auth.identities where user_id = any($3::uuid[]))
         insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
         select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
           from jsonb_populate_recordset(null::auth.identities, $2)
         on conflict (id) do update set updated_at = excluded.updated_at`,
        [JSON.stringify(snapshot.users), JSON.stringify(snapshot.identities), ids],
      );
    // Three breakages per round, one per user, so each check covers three.
    const reported = new Map<string, string>();
    for (let k = 0; k < breakages.length; k += specs.length) {
      const round = specs.map((spec, j) => ({ spec, b: breakages[k + j] })).filter((x) => x.b !== undefined);
      await withClient(url, async (c) => {
        for (const { spec, b } of round) await breakUser(c, b![1], spec.id);
      });
      const r = await checkTestUsers(config, config.local);
      for (const { spec, b } of round) {
        const user = userReport(r, spec);
        expect({ what: b![0], ok: user.ok, problems: user.problems.length }).toEqual({
          what: b![0],
          ok: false,
          problems: 1,
        });
        if (b![2] !== null) expect(user.problems[0], b![0]).toContain(b![2]);
        reported.set(b![0], user.problems[0]!);
      }
      await withClient(url, restore);
    }
    // Told apart: as many different problems as breakages, but for the two identity ones.
    expect(new Set(reported.values()).size).toBe(breakages.length - 1);
    expect(await checkTestUsers(config, config.local)).toMatchObject({ ok: true });

    // Everything at once on every user, then users create: all repaired, with a fresh bcrypt hash.
    await withClient(url, async (c) => {
      for (const [, sql] of breakages) for (const id of ids) await breakUser(c, sql, id);
    });
    expect((await checkTestUsers(config, config.local)).users.map((u) => u.ok)).toEqual([
      false,
      false,
      false,
    ]);
    await createTestUsers(config, config.local);
    expect(await checkTestUsers(config, config.local)).toMatchObject({ ok: true });
    const { rows } = await withClient(url, (c) =>
      c.query(
        `select distinct left(encrypted_password, 4) as prefix from auth.users where id = any($1::uuid[])`,
        [ids],
      ),
    );
    expect(rows).toEqual([{ prefix: '$2a$' }]);
  });
});

describe.concurrent('hostile configuration values are data, never SQL', () => {
  it('a password with quotes, backslashes and "); drop table" works, and users check verifies it', async () => {
    const url = await createTestDatabase();
    await withClient(url, (c) => c.query('create table public.x (id int)'));
    const config = testConfig({ local: url, env: { TEST_USER_PASSWORD: HOSTILE_PASSWORD } });
    expect(config.testUsers.password).toBe(HOSTILE_PASSWORD);
    await createTestUsers(config, config.local);
    expect(await checkTestUsers(config, config.local)).toMatchObject({ ok: true });
    const { rows } = await withClient(url, (c) =>
      c.query<{ ok: boolean; x: string | null }>(
        `select bool_and(encrypted_password = extensions.crypt($1, encrypted_password)) as ok, to_regclass('public.x')::text as x
           from auth.users where id = any($2::uuid[])`,
        [HOSTILE_PASSWORD, testUserSpecs(config).map((s) => s.id)],
      ),
    );
    expect(rows[0]).toEqual({ ok: true, x: 'x' });
  });

  it("an email with a quote (o'brien@test.local) is rejected by the config: ConfigError, exit 2", () => {
    let err: unknown;
    try {
      testConfig({
        local: 'postgresql://postgres:pw@127.0.0.1:1/db',
        env: { TEST_ADMIN_EMAIL: "o'brien@test.local" },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toContain('TEST_ADMIN_EMAIL');
  });

  it('an invalid email is a ConfigError from loadConfig, and the CLI exits 2 before writing anything', async () => {
    expect(() =>
      testConfig({
        local: 'postgresql://postgres:pw@127.0.0.1:1/db',
        env: { TEST_ADMIN_EMAIL: 'not-an-email' },
      }),
    ).toThrow(ConfigError);
    const url = await createTestDatabase();
    const r = runCli(['users', 'create', '--target', url], {
      cwd: tmp(),
      env: { TEST_ADMIN_EMAIL: 'not-an-email' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('TEST_ADMIN_EMAIL');
    const { rows } = await withClient(url, (c) =>
      c.query<{ users: number; sales: number; meta: number; orgs: number }>(
        `select (select count(*)::int from auth.users) as users, (select count(*)::int from public.sales) as sales,
                (select count(*)::int from public.test_user_metadata) as meta, (select count(*)::int from public.organizations) as orgs`,
      ),
    );
    expect(rows[0]).toEqual({ users: 0, sales: 0, meta: 0, orgs: 0 });
  });
});

describe.concurrent('volume overrides', () => {
  it('SEED_CONTACT_COUNT=5 applies to every user (other volumes keep the spec values); a default re-run restores them', async () => {
    const url = await createTestDatabase();
    const config = testConfig({ local: url, env: { SEED_CONTACT_COUNT: '5' } });
    const specs = testUserSpecs(config);
    for (const s of specs)
      expect(volumesFor(config, s.role)).toMatchObject({ ...SPEC_COUNTS[s.role], contacts: 5 });
    const result = await createTestUsers(config, config.local);
    let counts = await storedCounts(
      url,
      specs.map((s) => s.id),
    );
    for (const s of specs) {
      expect(counts.get(s.id)).toMatchObject({ ...SPEC_COUNTS[s.role], contacts: 5 });
      expect(result.users.find((u) => u.id === s.id)!.counts).toEqual(counts.get(s.id));
    }
    expect(await checkTestUsers(config, config.local)).toMatchObject({ ok: true });

    // Back to the defaults on the same database: the test users' rows are replaced, not added to.
    const defaults = testConfig({ local: url });
    await createTestUsers(defaults, defaults.local);
    counts = await storedCounts(
      url,
      specs.map((s) => s.id),
    );
    for (const s of specs) expect(counts.get(s.id)).toMatchObject(SPEC_COUNTS[s.role]);

    // SEED_CONTACT_COUNT=0 cannot hold the spec's contact notes (they need contacts): a ConfigError
    // (exit 2) before anything is written.
    const before = await publicChecksums(url);
    const zero = testConfig({ local: url, env: { SEED_CONTACT_COUNT: '0' } });
    const err = await createTestUsers(zero, zero.local).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    // One problem per user, naming the user and the volume that is zero.
    const details = (err as ConfigError).details;
    for (const s of specs) expect(details.find((d) => d.includes(s.email))).toContain('contacts');
    expect(await publicChecksums(url)).toEqual(before);
  });
});

// Last and on its own: runCli blocks this worker while the CLI runs, which would stall the blocks above.
describe('crm-env users create / check (the built CLI)', () => {
  it('create --json exits 0 with parseable JSON, check exits 0, and no output contains the password', async () => {
    const url = await createTestDatabase();
    const cwd = tmp();
    const env = { TEST_USER_PASSWORD: HOSTILE_PASSWORD };
    const created = runCli(['users', 'create', '--json', '--target', url], { cwd, env });
    expect(created.code, created.stderr).toBe(0);
    const json = JSON.parse(created.stdout) as {
      target: string;
      users: { email: string; role: string; counts: Record<string, number> }[];
    };
    expect(json.target).toBe('custom');
    expect(json.users.map((u) => [u.email, u.role, u.counts.organizations])).toEqual([
      ['admin@test.local', 'admin', 50],
      ['director@test.local', 'sales_director', 30],
      ['manager@test.local', 'account_manager', 20],
    ]);

    const checked = runCli(['users', 'check', '--json', '--target', url], { cwd, env });
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    const report = JSON.parse(checked.stdout) as UsersCheckReport;
    expect(report.ok).toBe(true);
    expect(report.users.map((u) => [u.email, u.ok])).toEqual([
      ['admin@test.local', true],
      ['director@test.local', true],
      ['manager@test.local', true],
    ]);

    // Human output of create as well (the credentials block), with the URL as the [db-url] argument.
    const human = runCli(['users', 'create', url], { cwd, env });
    expect(human.code, human.stderr).toBe(0);
    const wrong = runCli(['users', 'check', '--json', '--target', url], {
      cwd,
      env: { TEST_USER_PASSWORD: `${HOSTILE_PASSWORD}!` },
    });
    expect(wrong.code).toBe(1);
    const wrongReport = JSON.parse(wrong.stdout) as UsersCheckReport;
    expect(wrongReport.ok).toBe(false);
    expect(wrongReport.users.map((u) => [u.email, u.ok])).toEqual([
      ['admin@test.local', false],
      ['director@test.local', false],
      ['manager@test.local', false],
    ]);

    for (const r of [created, checked, human, wrong]) {
      const output = r.stdout + r.stderr;
      expect(output).not.toContain(HOSTILE_PASSWORD);
      expect(output).not.toContain('drop table x');
    }
  });
});
