/**
 * Row-level security matrix for supabase/migrations: every public table × {select, insert, update,
 * delete} × every kind of caller, impersonated the way PostgREST does it — inside a transaction,
 * `set_config('role', …, true)` + `set_config('request.jwt.claims', <json>, true)`, then the statement,
 * then ROLLBACK — and compared cell by cell with the rules of docs/design/crm-schema.md.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { createTestDatabase } from './support/db.js';

type Actor = 'admin' | 'director' | 'manager' | 'manager2' | 'outsider' | 'anon' | 'service_role';
type Op = 'select' | 'insert' | 'update' | 'delete';
/**
 * all    – every row (select/update/delete); rows for any owner (insert)
 * own    – exactly the caller's own rows; rows owned by the caller only (insert)
 * none   – the grants allow the statement but RLS lets nothing through (0 rows / insert rejected)
 * denied – the statement fails on table privileges ("permission denied for table …")
 * Anything else the probes see is reported as a descriptive string, which never equals a cell.
 */
type Outcome = 'all' | 'own' | 'none' | 'denied';
type Row = Record<Op, Outcome>;

const ACTORS = ['admin', 'director', 'manager', 'manager2', 'outsider', 'anon', 'service_role'] as const;
const OPS = ['select', 'insert', 'update', 'delete'] as const;

/** The four CRM users (auth.users + public.sales). */
const SALES = {
  admin: { id: 'a0000000-0000-4000-8000-000000000001', role: 'admin' },
  director: { id: 'a0000000-0000-4000-8000-000000000002', role: 'sales_director' },
  manager: { id: 'a0000000-0000-4000-8000-000000000003', role: 'account_manager' },
  manager2: { id: 'a0000000-0000-4000-8000-000000000004', role: 'account_manager' },
} as const;
type SalesActor = keyof typeof SALES;
/** Signed in (auth.users row, valid JWT) but no public.sales row, e.g. someone who used open sign-up. */
const OUTSIDER_ID = 'a0000000-0000-4000-8000-0000000000ff';

function isSalesActor(actor: Actor): actor is SalesActor {
  return actor in SALES;
}

/** auth.uid() of the caller, or null for anon / service_role. */
function uidOf(actor: Actor): string | null {
  if (isSalesActor(actor)) return SALES[actor].id;
  return actor === 'outsider' ? OUTSIDER_ID : null;
}

// ---------------------------------------------------------------------------------------------
// Expected matrix (docs/design/crm-schema.md, "Row-level security")
// ---------------------------------------------------------------------------------------------

const r = (select: Outcome, insert: Outcome, update: Outcome, del: Outcome): Row => ({
  select,
  insert,
  update,
  delete: del,
});
const ALL = r('all', 'all', 'all', 'all');
const DENIED = r('denied', 'denied', 'denied', 'denied');
const NONE = r('none', 'none', 'none', 'none');

/** Owned entities: admin all; director reads all, writes own; account managers own only. */
const OWNED: Record<Actor, Row> = {
  admin: ALL,
  director: r('all', 'own', 'own', 'own'),
  manager: r('own', 'own', 'own', 'own'),
  manager2: r('own', 'own', 'own', 'own'),
  outsider: NONE,
  anon: DENIED,
  service_role: ALL,
};
/** segments, tags, products: read by CRM users, written by admin. */
const REFERENCE: Record<Actor, Row> = {
  admin: ALL,
  director: r('all', 'none', 'none', 'none'),
  manager: r('all', 'none', 'none', 'none'),
  manager2: r('all', 'none', 'none', 'none'),
  outsider: NONE,
  anon: DENIED,
  service_role: ALL,
};
/** sales: read by CRM users; own row updatable; admin inserts/deletes. */
const SALES_RULES: Record<Actor, Row> = {
  admin: ALL,
  director: r('all', 'none', 'own', 'none'),
  manager: r('all', 'none', 'own', 'none'),
  manager2: r('all', 'none', 'own', 'none'),
  outsider: NONE,
  anon: DENIED,
  service_role: ALL,
};
/** test_user_metadata: the spec's policies (read by any authenticated user, written by service_role). */
const TEST_METADATA: Record<Actor, Row> = {
  admin: r('all', 'denied', 'denied', 'denied'),
  director: r('all', 'denied', 'denied', 'denied'),
  manager: r('all', 'denied', 'denied', 'denied'),
  manager2: r('all', 'denied', 'denied', 'denied'),
  outsider: r('all', 'denied', 'denied', 'denied'),
  anon: DENIED,
  service_role: ALL,
};

// ---------------------------------------------------------------------------------------------
// Fixtures and table descriptions
// ---------------------------------------------------------------------------------------------

/** Rows owned by one sales user that insert probes hang children on. */
interface OwnerFixture {
  readonly organization: string;
  readonly contact: string;
  /** An opportunity without a deal (deals.opportunity_id is unique). */
  readonly spareOpportunity: string;
  readonly deal: string;
}

interface Stmt {
  readonly text: string;
  readonly values: unknown[];
}

interface TableCase {
  /** Name as in pg_class.relname. */
  readonly name: string;
  /** Column that says whose row it is; null when the rules do not depend on an owner. */
  readonly owner: string | null;
  /** A harmless SET clause for the update probe. */
  readonly set: string;
  /**
   * One new row owned by `ownerId` (owned tables) or a fresh row (the others); `prep` runs as the
   * database owner before impersonation (e.g. the auth.users row a sales row needs).
   */
  readonly insert: (ownerId: string, parents: OwnerFixture) => { prep?: Stmt; row: Stmt };
  readonly expected: Record<Actor, Row>;
}

const stmt = (text: string, ...values: unknown[]): Stmt => ({ text, values });

/** A new auth user as the owner connection would create it (the probe's sales/metadata row needs one). */
function newAuthUser(id: string): Stmt {
  return stmt(
    `insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')`,
    id,
    `${id}@probe.test`,
  );
}

const TABLES: readonly TableCase[] = [
  {
    name: 'sales',
    owner: 'id',
    set: `phone = '555-0100'`,
    insert: () => {
      const id = randomUUID();
      return {
        prep: newAuthUser(id),
        row: stmt(
          `insert into public.sales (id, first_name, last_name, email) values ($1, 'Probe', 'User', $2)`,
          id,
          `${id}@probe.test`,
        ),
      };
    },
    expected: SALES_RULES,
  },
  {
    name: 'segments',
    owner: null,
    set: `description = 'probe'`,
    insert: () => ({ row: stmt(`insert into public.segments (name) values ('probe segment')`) }),
    expected: REFERENCE,
  },
  {
    name: 'tags',
    owner: null,
    set: `color = 'blue'`,
    insert: () => ({ row: stmt(`insert into public.tags (name) values ('probe tag')`) }),
    expected: REFERENCE,
  },
  {
    name: 'products',
    owner: null,
    set: `is_active = false`,
    insert: () => ({
      row: stmt(
        `insert into public.products (sku, name, category, unit_price) values ('PROBE-1', 'Probe', 'Dry goods', 1.5)`,
      ),
    }),
    expected: REFERENCE,
  },
  {
    name: 'organizations',
    owner: 'sales_id',
    set: `priority = 'A'`,
    insert: (owner) => ({
      row: stmt(`insert into public.organizations (name, sales_id) values ('Probe Org', $1)`, owner),
    }),
    expected: OWNED,
  },
  {
    name: 'contacts',
    owner: 'sales_id',
    set: `title = 'Chef'`,
    insert: (owner, p) => ({
      row: stmt(
        `insert into public.contacts (first_name, last_name, organization_id, sales_id) values ('Pro', 'Be', $1, $2)`,
        p.organization,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'contactNotes',
    owner: 'sales_id',
    set: `status = 'warm'`,
    insert: (owner, p) => ({
      row: stmt(
        `insert into public."contactNotes" (contact_id, text, sales_id) values ($1, 'probe', $2)`,
        p.contact,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'opportunities',
    owner: 'sales_id',
    set: `probability = 60`,
    insert: (owner, p) => ({
      row: stmt(
        `insert into public.opportunities (name, organization_id, sales_id) values ('Probe Opp', $1, $2)`,
        p.organization,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'deals',
    owner: 'sales_id',
    set: `name = name || ' (edited)'`,
    insert: (owner, p) => ({
      row: stmt(
        `insert into public.deals (opportunity_id, organization_id, name, amount, closed_at, sales_id)
         values ($1, $2, 'Probe Deal', 100, now(), $3)`,
        p.spareOpportunity,
        p.organization,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'dealNotes',
    owner: 'sales_id',
    set: `text = 'edited'`,
    insert: (owner, p) => ({
      row: stmt(
        `insert into public."dealNotes" (deal_id, text, sales_id) values ($1, 'probe', $2)`,
        p.deal,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'activities',
    owner: 'sales_id',
    set: `duration_minutes = 15`,
    insert: (owner) => ({
      row: stmt(
        `insert into public.activities (type, subject, occurred_at, sales_id) values ('call', 'probe', now(), $1)`,
        owner,
      ),
    }),
    expected: OWNED,
  },
  {
    name: 'tasks',
    owner: 'sales_id',
    set: `priority = 'high'`,
    insert: (owner) => ({
      row: stmt(`insert into public.tasks (title, sales_id) values ('probe', $1)`, owner),
    }),
    expected: OWNED,
  },
  {
    name: 'test_user_metadata',
    owner: null,
    set: `last_sync_at = now()`,
    insert: () => {
      const id = randomUUID();
      return {
        prep: newAuthUser(id),
        row: stmt(`insert into public.test_user_metadata (user_id, role) values ($1, 'account_manager')`, id),
      };
    },
    expected: TEST_METADATA,
  },
];

/** Creates the users and a few rows per table for each sales user, as the (RLS-bypassing) owner. */
async function seed(client: pg.Client): Promise<Record<SalesActor, OwnerFixture>> {
  const q = (text: string, ...values: unknown[]) => client.query(text, values);
  for (const id of [...Object.values(SALES).map((s) => s.id), OUTSIDER_ID]) {
    const user = newAuthUser(id);
    await q(user.text, ...user.values);
  }
  for (const [actor, { id, role }] of Object.entries(SALES)) {
    await q(
      `insert into public.sales (id, first_name, last_name, email, role) values ($1, $2, 'Test', $3, $4)`,
      id,
      actor,
      `${actor}@test.local`,
      role,
    );
    await q(`insert into public.test_user_metadata (user_id, role) values ($1, $2)`, id, role);
  }
  await q(`insert into public.segments (name) values ('Fine dining'), ('Healthcare')`);
  await q(`insert into public.tags (name, color) values ('vip', 'gold'), ('cold', 'blue')`);
  await q(
    `insert into public.products (sku, name, category, unit_price, created_by)
     values ('SKU-1', 'Olive oil', 'Oils', 12.5, $1), ('SKU-2', 'Flour', 'Dry goods', 3.2, $1)`,
    SALES.admin.id,
  );
  const fixtures = {} as Record<SalesActor, OwnerFixture>;
  for (const actor of Object.keys(SALES) as SalesActor[]) {
    const owner = SALES[actor].id;
    const [org1, org2, c1, c2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const [op1, op2, op3, d1, d2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await q(
      `insert into public.organizations (id, name, sales_id) values ($1, 'Org 1', $3), ($2, 'Org 2', $3)`,
      org1,
      org2,
      owner,
    );
    await q(
      `insert into public.contacts (id, first_name, last_name, organization_id, sales_id)
       values ($1, 'Ann', 'One', $3, $4), ($2, 'Bob', 'Two', $3, $4)`,
      c1,
      c2,
      org1,
      owner,
    );
    await q(
      `insert into public."contactNotes" (contact_id, text, sales_id) values ($1, 'n1', $2), ($1, 'n2', $2)`,
      c1,
      owner,
    );
    await q(
      `insert into public.opportunities (id, name, organization_id, sales_id)
       values ($1, 'Opp 1', $4, $5), ($2, 'Opp 2', $4, $5), ($3, 'Opp spare', $4, $5)`,
      op1,
      op2,
      op3,
      org1,
      owner,
    );
    await q(
      `insert into public.deals (id, opportunity_id, organization_id, name, amount, closed_at, sales_id)
       values ($1, $3, $5, 'Deal 1', 10, now(), $6), ($2, $4, $5, 'Deal 2', 20, now(), $6)`,
      d1,
      d2,
      op1,
      op2,
      org1,
      owner,
    );
    await q(
      `insert into public."dealNotes" (deal_id, text, sales_id) values ($1, 'd1', $2), ($1, 'd2', $2)`,
      d1,
      owner,
    );
    await q(
      `insert into public.activities (type, subject, occurred_at, organization_id, contact_id, opportunity_id, sales_id)
       values ('call', 'a1', now(), $1, $2, $3, $4), ('email', 'a2', now(), $1, $2, $3, $4)`,
      org1,
      c1,
      op1,
      owner,
    );
    await q(
      `insert into public.tasks (title, contact_id, opportunity_id, sales_id) values ('t1', $1, $2, $3), ('t2', $1, $2, $3)`,
      c1,
      op1,
      owner,
    );
    fixtures[actor] = { organization: org1, contact: c1, spareOpportunity: op3, deal: d1 };
  }
  return fixtures;
}

// ---------------------------------------------------------------------------------------------
// Impersonation and probes
// ---------------------------------------------------------------------------------------------

type Attempt<T> = { ok: true; value: T } | { ok: false; code: string | undefined; message: string };

/** The PostgREST request context for a caller: database role and JWT claims. */
function requestContext(actor: Actor): { role: string; claims: string } {
  if (actor === 'anon' || actor === 'service_role')
    return { role: actor, claims: JSON.stringify({ role: actor }) };
  return { role: 'authenticated', claims: JSON.stringify({ sub: uidOf(actor), role: 'authenticated' }) };
}

/**
 * BEGIN; optional `prep` as the owner; set role + claims like PostgREST; `run`; ROLLBACK.
 * Database errors are returned, not thrown.
 */
async function asActor<T>(
  client: pg.Client,
  actor: Actor,
  run: () => Promise<T>,
  prep?: Stmt,
): Promise<Attempt<T>> {
  await client.query('begin');
  try {
    if (prep) await client.query(prep.text, prep.values);
    const ctx = requestContext(actor);
    await client.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [
      ctx.role,
      ctx.claims,
    ]);
    return { ok: true, value: await run() };
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    return { ok: false, code, message };
  } finally {
    await client.query('rollback');
  }
}

type Verdict = 'ok' | 'denied' | 'rls';

/** Privilege error vs RLS rejection; anything else is a broken probe and fails the test. */
function verdict(a: Attempt<unknown>): Verdict {
  if (a.ok) return 'ok';
  if (a.code === '42501' && a.message.startsWith('permission denied for ')) return 'denied';
  if (a.code === '42501' && a.message.includes('row-level security')) return 'rls';
  throw new Error(`probe failed unexpectedly: ${a.code ?? '?'} ${a.message}`);
}

/** SQL literal for one of our own constant ids (never user input). */
const uuidLiteral = (id: string | null): string => (id === null ? 'null::uuid' : `'${id}'::uuid`);

/** Ground truth for one caller, counted as the owner: all rows, the caller's rows, everyone else's. */
interface Truth {
  readonly total: number;
  readonly own: number;
  readonly other: number;
}

function predicates(t: TableCase, actor: Actor): { own: string; other: string } {
  if (t.owner === null) return { own: 'false', other: 'true' };
  const uid = uuidLiteral(uidOf(actor));
  return { own: `${t.owner} = ${uid}`, other: `${t.owner} is distinct from ${uid}` };
}

const tableSql = (t: TableCase): string => `public."${t.name}"`;

async function countRows(
  client: pg.Client,
  t: TableCase,
  actor: Actor,
): Promise<{ total: number; own: number }> {
  const { own } = predicates(t, actor);
  const { rows } = await client.query<{ total: number; own: number }>(
    `select count(*)::int as total, count(*) filter (where ${own})::int as own from ${tableSql(t)}`,
  );
  return rows[0]!;
}

async function probeSelect(client: pg.Client, t: TableCase, actor: Actor, truth: Truth): Promise<string> {
  const a = await asActor(client, actor, () => countRows(client, t, actor));
  if (!a.ok) return verdict(a);
  const seen = a.value;
  if (seen.total === truth.total) return 'all';
  if (truth.own > 0 && seen.total === truth.own && seen.own === truth.own) return 'own';
  if (seen.total === 0) return 'none';
  return `saw ${seen.total} rows (${seen.own} own) of ${truth.total} (${truth.own} own)`;
}

/** Runs UPDATE or DELETE once on the caller's rows and once on everyone else's. */
async function probeWrite(
  client: pg.Client,
  t: TableCase,
  actor: Actor,
  truth: Truth,
  op: 'update' | 'delete',
): Promise<string> {
  const where = predicates(t, actor);
  const run = async (pred: string): Promise<Attempt<number>> =>
    asActor(client, actor, async () => {
      const sql =
        op === 'update'
          ? `update ${tableSql(t)} set ${t.set} where ${pred}`
          : `delete from ${tableSql(t)} where ${pred}`;
      return (await client.query(sql)).rowCount ?? 0;
    });
  // No own-rows probe for callers that own nothing (its WHERE would match no row anyway).
  const own = truth.own > 0 ? await run(where.own) : { ok: true as const, value: 0 };
  const other = await run(where.other);
  const verdicts = [verdict(own), verdict(other)];
  if (!own.ok || !other.ok) {
    return verdicts.every((v) => v === 'denied') || (truth.own === 0 && verdicts[1] === 'denied')
      ? 'denied'
      : `own rows: ${verdicts[0]}, other rows: ${verdicts[1]}`;
  }
  if (own.value === truth.own && other.value === truth.other) return 'all';
  if (truth.own > 0 && own.value === truth.own && other.value === 0) return 'own';
  if (own.value === 0 && other.value === 0) return 'none';
  return `${op}d ${own.value}/${truth.own} own and ${other.value}/${truth.other} other rows`;
}

/** INSERT a row owned by the caller (if the caller owns rows) and one owned by someone else. */
async function probeInsert(
  client: pg.Client,
  t: TableCase,
  actor: Actor,
  fixtures: Record<SalesActor, OwnerFixture>,
): Promise<string> {
  const attempt = async (owner: SalesActor): Promise<Verdict> => {
    const { prep, row } = t.insert(SALES[owner].id, fixtures[owner]);
    return verdict(await asActor(client, actor, () => client.query(row.text, row.values), prep));
  };
  const otherOwner: SalesActor = actor === 'manager' ? 'manager2' : 'manager';
  const own = t.owner === 'sales_id' && isSalesActor(actor) ? await attempt(actor) : undefined;
  const other = await attempt(otherOwner);
  if (other === 'denied' && (own === undefined || own === 'denied')) return 'denied';
  if (other === 'ok' && (own === undefined || own === 'ok')) return 'all';
  if (other === 'rls' && own === 'ok') return 'own';
  if (other === 'rls' && (own === undefined || own === 'rls')) return 'none';
  return `own insert: ${own ?? 'n/a'}, other owner's insert: ${other}`;
}

async function actualRow(
  client: pg.Client,
  t: TableCase,
  actor: Actor,
  fixtures: Record<SalesActor, OwnerFixture>,
): Promise<Record<Op, string>> {
  const counted = await countRows(client, t, actor);
  const truth: Truth = { ...counted, other: counted.total - counted.own };
  return {
    select: await probeSelect(client, t, actor, truth),
    insert: await probeInsert(client, t, actor, fixtures),
    update: await probeWrite(client, t, actor, truth, 'update'),
    delete: await probeWrite(client, t, actor, truth, 'delete'),
  };
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

let url: string;
let fixtures: Record<SalesActor, OwnerFixture>;

beforeAll(async () => {
  url = await createTestDatabase({ template: 'crm' });
  fixtures = await withClient(url, seed);
});

describe(`RLS matrix: ${TABLES.length} tables × ${OPS.length} operations × ${ACTORS.length} callers`, () => {
  it('covers every table and view in schema public, each with RLS enabled', async () => {
    const rows = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ name: string; rls: boolean }>(
            `select relname as name, relrowsecurity as rls from pg_class
           where relnamespace = 'public'::regnamespace and relkind in ('r', 'p', 'v', 'm', 'f') order by relname`,
          )
        ).rows,
    );
    expect(rows.map((row) => row.name)).toEqual(TABLES.map((t) => t.name).sort());
    expect(rows.filter((row) => !row.rls)).toEqual([]);
  });

  it('has no policy that anon could match except the spec’s role-checked test_user_metadata ones', async () => {
    const rows = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ table: string; policy: string }>(
            `select tablename as table, policyname as policy from pg_policies
           where schemaname = 'public' and roles && array['public', 'anon']::name[] order by 1, 2`,
          )
        ).rows,
    );
    expect(rows).toEqual([
      { table: 'test_user_metadata', policy: 'Test metadata readable by authenticated users' },
      { table: 'test_user_metadata', policy: 'Test metadata writable by service role' },
    ]);
  });

  it.each(TABLES.map((t) => [t.name, t] as const))('%s', async (_name, t) => {
    const actual = await withClient(url, async (c) => {
      const grid = {} as Record<Actor, Record<Op, string>>;
      for (const actor of ACTORS) grid[actor] = await actualRow(c, t, actor, fixtures);
      return grid;
    });
    expect(actual).toEqual(t.expected);
  });
});

describe('ownership and privileged columns', () => {
  const OWNED_TABLES = TABLES.filter((t) => t.owner === 'sales_id');

  it.each(OWNED_TABLES.map((t) => [t.name, t] as const))(
    '%s: only admin hands a row to another owner',
    async (_name, t) => {
      const result = await withClient(url, async (c) => {
        const out: Partial<Record<SalesActor, string>> = {};
        for (const actor of ['admin', 'director', 'manager'] as const) {
          const target = actor === 'manager' ? SALES.manager2.id : SALES.manager.id;
          const a = await asActor(
            c,
            actor,
            async () =>
              (
                await c.query(`update ${tableSql(t)} set sales_id = $1 where sales_id = $2`, [
                  target,
                  SALES[actor].id,
                ])
              ).rowCount,
          );
          out[actor] = a.ok ? `moved ${a.value}` : verdict(a);
        }
        return out;
      });
      const ownRows = await withClient(url, async (c) => (await countRows(c, t, 'admin')).own);
      expect(result).toEqual({ admin: `moved ${ownRows}`, director: 'rls', manager: 'rls' });
    },
  );

  /** Runs one UPDATE on public.sales as `actor`; 'n rows' or the error message. */
  async function updateSales(actor: Actor | 'owner', set: string, target: SalesActor): Promise<string> {
    return withClient(url, async (c) => {
      const sql = `update public.sales set ${set} where id = $1`;
      if (actor === 'owner') {
        await c.query('begin');
        try {
          return `${(await c.query(sql, [SALES[target].id])).rowCount} rows`;
        } finally {
          await c.query('rollback');
        }
      }
      const a = await asActor(c, actor, async () => (await c.query(sql, [SALES[target].id])).rowCount);
      return a.ok ? `${a.value} rows` : a.message;
    });
  }

  const REJECTED = 'only an admin can change role, email or disabled of a sales row';

  it.each([
    ['manager', `first_name = 'Mia', phone = '555', avatar_url = 'https://x/a.png'`, 'manager', '1 rows'],
    ['manager', `role = 'admin'`, 'manager', REJECTED],
    ['manager', `role = 'sales_director'`, 'manager', REJECTED],
    ['manager', `email = 'me@evil.test'`, 'manager', REJECTED],
    ['manager', `disabled = true`, 'manager', REJECTED],
    ['director', `role = 'admin'`, 'director', REJECTED],
    ['director', `last_name = 'D'`, 'director', '1 rows'],
    ['manager', `first_name = 'X'`, 'manager2', '0 rows'],
    ['director', `role = 'account_manager'`, 'manager', '0 rows'],
    ['admin', `role = 'sales_director'`, 'manager', '1 rows'],
    ['admin', `disabled = true, email = 'm@test.local'`, 'manager2', '1 rows'],
    ['service_role', `role = 'admin'`, 'manager', '1 rows'],
    ['owner', `role = 'admin'`, 'manager', '1 rows'],
  ] as const)('%s: set %s on %s → %s', async (actor, set, target, expected) => {
    expect(await updateSales(actor, set, target)).toBe(expected);
  });

  it('role changes keep administrator in step', async () => {
    const result = await withClient(url, async (c) => {
      const a = await asActor(c, 'admin', async () => {
        await c.query(`update public.sales set role = 'admin' where id = $1`, [SALES.manager.id]);
        return (
          await c.query<{ administrator: boolean }>(`select administrator from public.sales where id = $1`, [
            SALES.manager.id,
          ])
        ).rows[0]?.administrator;
      });
      return a.ok ? a.value : a.message;
    });
    expect(result).toBe(true);
  });
});
