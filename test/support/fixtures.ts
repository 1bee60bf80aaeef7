/**
 * A small CRM dataset inserted directly with parameterized SQL (no seed generator), and helpers that
 * read a database's state — per-table checksums, auth users, sequences — so sync and verify tests can
 * say exactly what changed and what did not.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { TableInfo } from '../../src/db/catalog.js';
import { readTables } from '../../src/db/catalog.js';
import type { TableChecksum } from '../../src/db/checksum.js';
import { checksumTables } from '../../src/db/checksum.js';
import { withClient } from '../../src/db/connect.js';
import { superuserUrl } from './db.js';

export type CrmRole = 'admin' | 'sales_director' | 'account_manager';

export interface FixtureUser {
  readonly id: string;
  readonly email: string;
  /** CRM role when the user gets a public.sales row. */
  readonly role: CrmRole;
}

/** The three test users (TEST_EMAIL_DOMAIN defaults to test.local), with fixed ids on every database. */
export const TEST_USERS: readonly FixtureUser[] = [
  { id: 'a0000000-0000-4000-8000-000000000001', email: 'admin@test.local', role: 'admin' },
  { id: 'a0000000-0000-4000-8000-000000000002', email: 'director@test.local', role: 'sales_director' },
  { id: 'a0000000-0000-4000-8000-000000000003', email: 'manager@test.local', role: 'account_manager' },
];

/** A real (non-test) user: sync must never touch it. */
export const REAL_USER: FixtureUser = {
  id: 'b0000000-0000-4000-8000-000000000001',
  email: 'real@example.com',
  role: 'account_manager',
};

/** The public tables of the CRM migrations (docs/design/crm-schema.md). */
export const CRM_TABLES = [
  'activities',
  'contactNotes',
  'contacts',
  'dealNotes',
  'deals',
  'opportunities',
  'organizations',
  'products',
  'sales',
  'segments',
  'tags',
  'tasks',
  'test_user_metadata',
] as const;

export interface DatasetOptions {
  /** Goes into names and password hashes, so two datasets (local vs cloud) differ in content. */
  readonly tag: string;
  /** Test users to create (default {@link TEST_USERS}); each gets a sales row and metadata. */
  readonly testUsers?: readonly FixtureUser[];
  /** Also create {@link REAL_USER} with an identity (default true). */
  readonly realUser?: boolean;
  /** Give REAL_USER a public.sales row and a few owned rows too (default false). */
  readonly realUserSales?: boolean;
  /** Segments inserted with the default identity (default 3). */
  readonly segments?: number;
}

export interface Dataset {
  readonly users: readonly FixtureUser[];
  /** Rows inserted per public table. */
  readonly counts: Readonly<Record<string, number>>;
  readonly contactIds: readonly string[];
}

/** A fake bcrypt-looking hash that differs per tag and user. */
export function passwordHash(tag: string, email: string): string {
  return `$2a$10$${Buffer.from(`${tag}:${email}`).toString('base64').padEnd(53, '.').slice(0, 53)}`;
}

/** auth.users + auth.identities rows the way GoTrue writes an email sign-up. */
export async function insertAuthUser(
  client: pg.Client,
  user: { id: string; email: string },
  hash: string,
): Promise<void> {
  await client.query(
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                             raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
     values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, $3,
             '2024-01-02 03:04:05.678901+00', '{"provider":"email","providers":["email"]}', $4, now(), now())`,
    [user.id, user.email, hash, JSON.stringify({ name: user.email.split('@')[0] })],
  );
  await client.query(
    `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
     values ($1::text, $1::uuid, jsonb_build_object('sub', $1::text, 'email', $2::text, 'email_verified', true), 'email', now(), now(), now())`,
    [user.id, user.email],
  );
}

/**
 * Inserts the dataset on `url` as the `postgres` role: auth users (test users and, by default, one
 * real user), sales rows for every role, and a few rows in every public table.
 */
export async function insertCrmDataset(url: string, options: DatasetOptions): Promise<Dataset> {
  const tag = options.tag;
  const testUsers = options.testUsers ?? TEST_USERS;
  const counts: Record<string, number> = {};
  const bump = (table: string, n: number): void => {
    counts[table] = (counts[table] ?? 0) + n;
  };
  const contactIds: string[] = [];
  await withClient(url, async (c) => {
    const q = (text: string, values: unknown[] = []): Promise<pg.QueryResult> => c.query(text, values);
    await q('begin');
    for (const u of testUsers) await insertAuthUser(c, u, passwordHash(tag, u.email));
    const owners: FixtureUser[] = [...testUsers];
    if (options.realUser ?? true) {
      await insertAuthUser(c, REAL_USER, passwordHash(tag, REAL_USER.email));
      if (options.realUserSales) owners.push(REAL_USER);
    }
    for (const u of owners) {
      await q(
        `insert into public.sales (id, first_name, last_name, email, phone, role) values ($1, $2, $3, $4, $5, $6)`,
        [u.id, u.email.split('@')[0], `${tag} Person`, u.email, `+1 555 ${tag}`, u.role],
      );
      bump('sales', 1);
    }
    for (const u of testUsers) {
      await q(
        `insert into public.test_user_metadata (user_id, role, last_sync_at, test_data_counts) values ($1, $2, now(), $3)`,
        [u.id, u.role, JSON.stringify({ contacts: 2, organizations: 1, tag })],
      );
      bump('test_user_metadata', 1);
    }
    const segments = options.segments ?? 3;
    const segmentIds: string[] = [];
    for (let i = 1; i <= segments; i++) {
      const { rows } = await q(
        `insert into public.segments (name, description) values ($1, $2) returning id::text`,
        [`${tag} segment ${i}`, i % 2 === 0 ? null : `Segment ${i} of ${tag}`],
      );
      segmentIds.push(rows[0].id as string);
    }
    bump('segments', segments);
    // Tags get explicit ids, as a seed that upserts by name with deterministic ids would: their
    // identity sequence is never used, which is exactly what sync's sequence move must cope with.
    await q(
      `insert into public.tags (id, name, color) values (1, $1, 'gold'), (2, $2, 'blue'), (3, $3, 'gray')`,
      [`${tag} vip`, `${tag} cold`, `${tag} new`],
    );
    bump('tags', 3);
    const admin = testUsers.find((u) => u.role === 'admin') ?? testUsers[0]!;
    await q(
      `insert into public.products (sku, name, category, principal, unit_price, pack_size, attributes, certifications, created_by)
       values ($1, 'Olive oil', 'Oils', 'Acme', 12.50, '6x1L', $3, $4, $5),
              ($2, 'Flour "00"', 'Dry goods', null, 3.20, null, '{}', '{}', null)`,
      [
        `${tag}-SKU-1`,
        `${tag}-SKU-2`,
        JSON.stringify({ origin: 'Jaén', organic: true }),
        ['EU organic', 'kosher'],
        admin.id,
      ],
    );
    bump('products', 2);
    for (const [i, owner] of owners.entries()) {
      const [org, contact1, contact2, opp1, opp2, deal] = [
        randomUUID(),
        randomUUID(),
        randomUUID(),
        randomUUID(),
        randomUUID(),
        randomUUID(),
      ];
      contactIds.push(contact1, contact2);
      await q(
        `insert into public.organizations (id, name, segment_id, priority, organization_type, city, annual_revenue, employee_count,
                                           tag_ids, context_links, sales_id)
         values ($1, $2, $3, 'A', 'customer', 'Zürich', 1234567.89, 42, '{1,3}', $4, $5)`,
        [
          org,
          `${tag} Org ${i}`,
          segmentIds[i % Math.max(segmentIds.length, 1)] ?? null,
          JSON.stringify([{ url: 'https://example.com' }]),
          owner.id,
        ],
      );
      bump('organizations', 1);
      await q(
        `insert into public.contacts (id, first_name, last_name, title, organization_id, email, tag_ids, first_seen, sales_id)
         values ($1, 'Ann', $3, 'Chef', $4, 'ann@example.com', '{2}', '2024-05-06 07:08:09+02', $5),
                ($2, 'Bob', $3, null, $4, null, '{}', null, $5)`,
        [contact1, contact2, `${tag} ${i}`, org, owner.id],
      );
      bump('contacts', 2);
      await q(
        `insert into public."contactNotes" (contact_id, text, status, attachments, sales_id)
         values ($1, $2, 'warm', '[]', $3), ($1, 'second note', null, '[{"name":"menu.pdf"}]', $3)`,
        [contact1, `note by ${tag}`, owner.id],
      );
      bump('contactNotes', 2);
      await q(
        `insert into public.opportunities (id, name, organization_id, contact_ids, stage, amount, probability, expected_closing_date, sales_id)
         values ($1, $3, $4, $5, 'demo_scheduled', 1500.00, 70, '2025-01-31', $6),
                ($2, 'Spare', $4, '{}', 'new_lead', 0, 10, null, $6)`,
        [opp1, opp2, `${tag} Opp ${i}`, org, [contact1, contact2], owner.id],
      );
      bump('opportunities', 2);
      await q(
        `insert into public.deals (id, opportunity_id, organization_id, name, amount, closed_at, sales_id)
         values ($1, $2, $3, $4, 1499.99, '2025-02-01 10:00:00+00', $5)`,
        [deal, opp1, org, `${tag} Deal ${i}`, owner.id],
      );
      bump('deals', 1);
      await q(`insert into public."dealNotes" (deal_id, text, sales_id) values ($1, $2, $3)`, [
        deal,
        `deal note ${tag}`,
        owner.id,
      ]);
      bump('dealNotes', 1);
      await q(
        `insert into public.activities (type, subject, body, occurred_at, duration_minutes, organization_id, contact_id, opportunity_id, sales_id)
         values ('call', $1, 'Talked\tabout\nprices', '2025-01-10 09:30:00+01', 15, $2, $3, $4, $5),
                ('email', 'Follow-up', null, '2025-01-11 09:30:00+01', null, null, null, null, $5)`,
        [`${tag} call ${i}`, org, contact1, opp1, owner.id],
      );
      bump('activities', 2);
      await q(
        `insert into public.tasks (title, description, type, priority, due_date, contact_id, opportunity_id, sales_id)
         values ($1, 'Bring samples', 'sample_delivery', 'high', '2025-03-01', $2, $3, $4),
                ('Call back', null, 'call', 'low', null, null, null, $4)`,
        [`${tag} task ${i}`, contact1, opp1, owner.id],
      );
      bump('tasks', 2);
    }
    await q('commit');
  });
  return { users: testUsers, counts, contactIds };
}

/**
 * Adds `rows` activities in one SQL statement (generate_series), owned by the first test user, each
 * with a body of `bodyChars` characters, so a COPY of the table is big enough to be interrupted.
 */
export async function addBulkActivities(
  url: string,
  rows: number,
  ownerId = TEST_USERS[0]!.id,
  bodyChars = 100,
): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(
      `insert into public.activities (type, subject, body, occurred_at, duration_minutes, sales_id)
       select 'call', 'bulk ' || g, repeat('x', $3::int), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', g % 120, $2
         from generate_series(1, $1::int) g`,
      [rows, ownerId, bodyChars],
    );
  });
}

async function checksumsOf(
  client: pg.Client,
  tables: readonly TableInfo[],
): Promise<Record<string, TableChecksum>> {
  await client.query('begin isolation level repeatable read read only');
  try {
    const sums = await checksumTables(client, tables);
    return Object.fromEntries(sums.map((s) => [s.table, s]));
  } finally {
    await client.query('rollback');
  }
}

/** Per-table checksums (rows + content) of every table of `schema`, from one snapshot. */
export async function tableChecksums(url: string, schema = 'public'): Promise<Record<string, TableChecksum>> {
  return withClient(url, async (c) => checksumsOf(c, await readTables(c, schema)));
}

/** Checksums of auth.users and auth.identities (every row, test users or not). */
export async function authChecksums(url: string): Promise<Record<string, TableChecksum>> {
  return withClient(url, async (c) => {
    const tables = (await readTables(c, 'auth')).filter((t) => t.name === 'users' || t.name === 'identities');
    return checksumsOf(c, tables);
  });
}

/** Everything sync may change on a database: public checksums, auth checksums and sequence states. */
export async function databaseState(url: string): Promise<{
  public: Record<string, TableChecksum>;
  auth: Record<string, TableChecksum>;
  sequences: Record<string, string>;
}> {
  const [pub, auth, sequences] = await Promise.all([
    tableChecksums(url),
    authChecksums(url),
    sequenceStates(url),
  ]);
  return { public: pub, auth, sequences };
}

/** `last_value/is_called` of every sequence in public (setval is not transactional: watch it). */
export async function sequenceStates(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `select format('%I.%I', schemaname, sequencename) as name from pg_sequences where schemaname = 'public' order by 1`,
    );
    const out: Record<string, string> = {};
    for (const r of rows) {
      const { rows: s } = await c.query<{ v: string }>(
        `select last_value::text || '/' || is_called::text as v from ${r.name}`,
      );
      out[r.name] = s[0]!.v;
    }
    return out;
  });
}

export interface AuthUserRow {
  id: string;
  email: string;
  encrypted_password: string | null;
}

/** auth.users rows (id, email, hash), ordered by email; `where` filters on email (SQL, trusted). */
export async function authUsers(url: string, where = 'true'): Promise<AuthUserRow[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<AuthUserRow>(
      `select id::text, email::text, encrypted_password::text from auth.users where ${where} order by email`,
    );
    return rows;
  });
}

/** auth.identities rows of the given users, as comparable JSON text. */
export async function identitiesOf(url: string, userIds: readonly string[]): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ r: string }>(
      `select jsonb_build_object('id', id, 'provider_id', provider_id, 'user_id', user_id, 'provider', provider,
                                 'identity_data', identity_data, 'email', email)::text as r
         from auth.identities where user_id = any($1::uuid[]) order by provider_id, provider`,
      [userIds],
    );
    return rows.map((r) => r.r);
  });
}

/** Runs SQL on the same database as the cluster superuser. */
export async function asSuperuser<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(superuserUrl(url), fn);
}

/** Runs one statement as `postgres` (the role the tools use). */
export async function exec(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  return withClient(url, (c) => c.query(text, values));
}
