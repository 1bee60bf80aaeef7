/**
 * `crm-env users check`: proves, in SQL, that each test user could sign in with GoTrue and that
 * row-level security gives each role what it should. Changes nothing (every probe is rolled back).
 */
import type { Config, DatabaseTarget } from '../config.js';
import type { Client } from '../db/connect.js';
import { withClient } from '../db/connect.js';
import type { TestUserSpec } from './test-users.js';
import { testUserSpecs } from './test-users.js';

export interface UserCheck {
  readonly email: string;
  readonly role: string;
  readonly ok: boolean;
  /** Failed conditions, one sentence each. */
  readonly problems: readonly string[];
}

export interface UsersCheckReport {
  readonly users: readonly UserCheck[];
  readonly ok: boolean;
}

interface AuthRow {
  id: string;
  instance_id: string | null;
  aud: string | null;
  role: string | null;
  email: string | null;
  email_confirmed_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  null_tokens: string[];
  password_ok: boolean | null;
  bcrypt: boolean | null;
  banned: boolean;
  is_sso_user: boolean;
  deleted: boolean;
  provider: string | null;
  identities_ok: boolean;
  sales_role: string | null;
}

/** GoTrue scans these into Go strings: NULL makes sign-in fail with "Database error querying schema". */
const STRING_COLUMNS = [
  'aud',
  'role',
  'confirmation_token',
  'recovery_token',
  'email_change_token_new',
  'email_change_token_current',
  'email_change',
  'phone_change',
  'phone_change_token',
  'reauthentication_token',
] as const;

async function signInProblems(client: Client, spec: TestUserSpec, password: string): Promise<string[]> {
  const { rows } = await client.query<AuthRow>(
    `select u.id::text, u.instance_id::text, u.aud, u.role, u.email, u.email_confirmed_at, u.created_at, u.updated_at,
            array_remove(array[${STRING_COLUMNS.map((c) => `case when to_jsonb(u) -> '${c}' = 'null'::jsonb then '${c}' end`).join(', ')}], null) as null_tokens,
            (u.encrypted_password is not null and u.encrypted_password <> ''
              and u.encrypted_password = extensions.crypt($2, u.encrypted_password)) as password_ok,
            left(u.encrypted_password, 4) in ('$2a$', '$2b$', '$2y$') as bcrypt,
            coalesce(u.banned_until > now(), false) as banned, u.is_sso_user, u.deleted_at is not null as deleted,
            u.raw_app_meta_data ->> 'provider' as provider,
            exists (select 1 from auth.identities i where i.user_id = u.id and i.provider = 'email'
                      and i.provider_id = u.id::text and i.created_at is not null and i.updated_at is not null
                      and i.identity_data ->> 'sub' = u.id::text) as identities_ok,
            (select s.role from public.sales s where s.id = u.id) as sales_role
       from auth.users u where u.id = $1`,
    [spec.id, password],
  );
  const u = rows[0];
  if (!u) return [`no auth.users row with id ${spec.id}`];
  const p: string[] = [];
  if (u.instance_id !== '00000000-0000-0000-0000-000000000000')
    p.push('instance_id is not the all-zero uuid GoTrue looks users up by');
  if (u.aud !== 'authenticated' || u.role !== 'authenticated')
    p.push(`aud/role are ${u.aud}/${u.role}, not authenticated`);
  if (u.email !== spec.email)
    p.push(`email is stored as ${JSON.stringify(u.email)}, expected lowercased ${spec.email}`);
  if (!u.email_confirmed_at) p.push('email is not confirmed ("Email not confirmed")');
  if (!u.created_at || !u.updated_at) p.push('created_at/updated_at is NULL (GoTrue cannot scan it)');
  if (u.null_tokens.length > 0)
    p.push(`NULL in ${u.null_tokens.join(', ')} ("Database error querying schema")`);
  if (!u.password_ok) p.push('the password does not verify against the stored bcrypt hash');
  else if (!u.bcrypt) p.push('encrypted_password is not a bcrypt hash ($2a$…): GoTrue cannot verify it');
  if (u.banned) p.push('user is banned');
  if (u.is_sso_user) p.push('is_sso_user is true (password sign-in skips SSO users)');
  if (u.deleted) p.push('user is soft-deleted');
  if (u.provider !== 'email') p.push('raw_app_meta_data.provider is not "email"');
  if (!u.identities_ok) p.push('no complete email identity in auth.identities');
  if (u.sales_role !== spec.role) p.push(`sales role is ${u.sales_role ?? 'missing'}, expected ${spec.role}`);
  return p;
}

/** Runs `fn` as the user, exactly as PostgREST does, inside a transaction that is rolled back. */
async function asUser<T>(client: Client, id: string, fn: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    await client.query(
      `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`,
      [JSON.stringify({ sub: id, role: 'authenticated', aud: 'authenticated' })],
    );
    return await fn();
  } finally {
    await client.query('rollback');
  }
}

async function rlsProblems(
  client: Client,
  spec: TestUserSpec,
  all: readonly TestUserSpec[],
): Promise<string[]> {
  const { rows: totals } = await client.query<{ total: number; own: number }>(
    `select count(*)::int as total, count(*) filter (where sales_id = $1)::int as own from public.organizations`,
    [spec.id],
  );
  const { total, own } = totals[0]!;
  const other =
    all.find((u) => u.id !== spec.id && u.role === 'account_manager') ?? all.find((u) => u.id !== spec.id)!;
  const { rows: targetRows } = await client.query<{ id: string }>(
    `select id::text from public.organizations where sales_id = $1 limit 1`,
    [other.id],
  );
  const othersOrg = targetRows[0]?.id;
  const p: string[] = [];
  await asUser(client, spec.id, async () => {
    const { rows } = await client.query<{ seen: number; foreign: number }>(
      `select count(*)::int as seen, count(*) filter (where sales_id <> $1)::int as foreign from public.organizations`,
      [spec.id],
    );
    const seen = rows[0]!;
    const expected = spec.role === 'account_manager' ? own : total;
    if (seen.seen !== expected) p.push(`sees ${seen.seen} organizations through RLS, expected ${expected}`);
    if (spec.role === 'account_manager' && seen.foreign > 0)
      p.push(`sees ${seen.foreign} organizations owned by others`);
    if (othersOrg) {
      const upd = await client.query(
        `update public.organizations set description = description where id = $1`,
        [othersOrg],
      );
      const canChange = spec.role === 'admin';
      if ((upd.rowCount ?? 0) === 1 && !canChange)
        p.push(`can change an organization owned by ${other.email}`);
      if ((upd.rowCount ?? 0) === 0 && canChange)
        p.push(`cannot change an organization owned by ${other.email}`);
    }
    const mine = await client.query(
      `update public.organizations set description = description where sales_id = $1`,
      [spec.id],
    );
    if (own > 0 && (mine.rowCount ?? 0) !== own) p.push('cannot change its own organizations');
  });
  return p;
}

/** Checks every test user on `target`. */
export async function checkTestUsers(config: Config, target: DatabaseTarget): Promise<UsersCheckReport> {
  const specs = testUserSpecs(config);
  return withClient(
    target.url,
    async (client) => {
      const users: UserCheck[] = [];
      for (const spec of specs) {
        const problems = await signInProblems(client, spec, config.testUsers.password);
        if (problems.length === 0) problems.push(...(await rlsProblems(client, spec, specs)));
        users.push({ email: spec.email, role: spec.role, ok: problems.length === 0, problems });
      }
      return { users, ok: users.every((u) => u.ok) };
    },
    { label: target.label },
  );
}
