/**
 * `dev:users:create`: the three test users (admin, sales director, account manager) with realistic,
 * deterministic CRM data, in one transaction. Idempotent: a second run leaves exactly the same rows
 * (same ids, same content) and touches no other user or their data.
 */
import { performance } from 'node:perf_hooks';
import { v5 as uuidv5 } from 'uuid';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config, DatabaseTarget } from '../config.js';
import type { TableInfo } from '../db/catalog.js';
import { readTables } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { pgFields, withLockedTransaction } from '../db/connect.js';
import { encodeCopyRows } from '../db/copy-text.js';
import { columnList, quoteIdent } from '../db/sql.js';
import { OperationError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { SeedData, SeedRole, SeedUser, SeedVolumes } from '../seed/generate.js';
import {
  DEFAULT_BASE_TIME,
  DEFAULT_VOLUMES,
  generateSeedData,
  remapReferenceIds,
  SEED_TABLES,
} from '../seed/generate.js';

/** The all-zero instance id GoTrue looks users up by. */
const GOTRUE_INSTANCE_ID = '00000000-0000-0000-0000-000000000000';

export interface TestUserSpec {
  readonly id: string;
  readonly email: string;
  readonly role: SeedRole;
  readonly firstName: string;
  readonly lastName: string;
  readonly fullName: string;
}

/**
 * The three users. Ids are UUIDv5 of the email in the DNS namespace: byte for byte what
 * `uuidgen -s -n @dns -N <email>` prints, so every machine derives the same ids.
 */
export function testUserSpecs(config: Config): TestUserSpec[] {
  const t = config.testUsers;
  const make = (
    email: string,
    role: SeedRole,
    firstName: string,
    lastName: string,
    fullName: string,
  ): TestUserSpec => ({
    id: uuidv5(email, uuidv5.DNS),
    email,
    role,
    firstName,
    lastName,
    fullName,
  });
  return [
    make(t.adminEmail, 'admin', 'Admin', 'User', 'Admin User'),
    make(t.directorEmail, 'sales_director', 'Sales', 'Director', 'Sales Director'),
    make(t.managerEmail, 'account_manager', 'Account', 'Manager', 'Account Manager'),
  ];
}

/** Spec volumes per role, with SEED_*_COUNT overrides applied to every user. */
export function volumesFor(config: Config, role: SeedRole): SeedVolumes {
  return { ...DEFAULT_VOLUMES[role], ...config.seed.volumeOverrides };
}

export interface UserSummary {
  readonly email: string;
  readonly role: SeedRole;
  readonly id: string;
  readonly counts: Record<string, number>;
}

export interface CreateUsersResult {
  readonly users: readonly UserSummary[];
  readonly rowsByTable: Record<string, number>;
  readonly ms: number;
}

/** Generates the data set for the configured users (pure; no database). */
export function generateForConfig(config: Config, specs: readonly TestUserSpec[]): SeedData {
  const users: SeedUser[] = specs.map((s) => ({
    id: s.id,
    email: s.email,
    role: s.role,
    volumes: volumesFor(config, s.role),
  }));
  return generateSeedData({
    seed: config.seed.seed,
    users,
    opportunity: config.opportunity,
    baseTime: DEFAULT_BASE_TIME,
  });
}

/**
 * Creates or refreshes the test users and their data on `target`, all in one transaction.
 */
export async function createTestUsers(
  config: Config,
  target: DatabaseTarget,
  reporter: Reporter = silentReporter,
): Promise<CreateUsersResult> {
  const t0 = performance.now();
  const specs = testUserSpecs(config);
  const data = generateForConfig(config, specs);
  const lock = {
    label: target.label,
    lock: 'seed',
    busyMessage:
      'Another crm-env run is creating test users on this database; try again when it has finished.',
  } as const;
  return withLockedTransaction(target.url, lock, async (client) => {
    reporter.step('1️⃣  Creating auth.users...');
    await upsertAuthUsers(client, specs, config.testUsers.password);
    reporter.step('2️⃣  Creating public.sales records...');
    await upsertSales(client, specs);
    reporter.step('3️⃣  Generating test data...');
    const tables = new Map((await readTables(client, 'public')).map((t) => [t.name, t]));
    const rowsByTable = await loadSeedData(client, tables, data, specs);
    for (const s of specs) {
      const c = data.countsByUser.get(s.id)!;
      reporter.info(
        `→ ${label(s.role)} data: ${c.contacts} contacts, ${c.organizations} orgs, ${c.opportunities} opportunities`,
      );
    }
    reporter.step('4️⃣  Recording test user metadata...');
    await upsertMetadata(client, specs, data);
    return {
      users: specs.map((s) => ({
        email: s.email,
        role: s.role,
        id: s.id,
        counts: data.countsByUser.get(s.id)!,
      })),
      rowsByTable,
      ms: performance.now() - t0,
    };
  });
}

export function label(role: SeedRole): string {
  return role === 'admin' ? 'Admin' : role === 'sales_director' ? 'Director' : 'Manager';
}

/**
 * Inserts or refreshes auth users so GoTrue would let them sign in (supabase-facts §1.3–1.4). The
 * password hash is kept when it still matches, so a re-run does not change the row.
 */
async function upsertAuthUsers(
  client: Client,
  specs: readonly TestUserSpec[],
  password: string,
): Promise<void> {
  const clash = await client.query<{ email: string }>(
    `select email from auth.users where lower(email) = any($1::text[]) and not (id = any($2::uuid[]))`,
    [specs.map((s) => s.email), specs.map((s) => s.id)],
  );
  if (clash.rows.length > 0) {
    throw new OperationError(
      `A different auth user already uses ${clash.rows[0]!.email} (created outside crm-env?); delete it or choose another TEST_*_EMAIL.`,
    );
  }
  for (const s of specs) {
    const meta = JSON.stringify({ full_name: s.fullName, role: s.role });
    await client.query(
      `insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at,
              created_at, updated_at, raw_app_meta_data, raw_user_meta_data,
              confirmation_token, recovery_token, email_change_token_new, email_change, is_sso_user)
       values ($1, $2, 'authenticated', 'authenticated', $3, extensions.crypt($4, extensions.gen_salt('bf')), now(),
               now(), now(), '{"provider": "email", "providers": ["email"]}'::jsonb, $5::jsonb, '', '', '', '', false)
       on conflict (id) do update set
         instance_id = excluded.instance_id, aud = excluded.aud, role = excluded.role, email = excluded.email,
         encrypted_password = case when left(users.encrypted_password, 4) = '$2a$'
                                        and users.encrypted_password = extensions.crypt($4, users.encrypted_password)
                                   then users.encrypted_password else excluded.encrypted_password end,
         email_confirmed_at = coalesce(users.email_confirmed_at, excluded.email_confirmed_at),
         created_at = coalesce(users.created_at, excluded.created_at), updated_at = coalesce(users.updated_at, excluded.updated_at),
         raw_app_meta_data = excluded.raw_app_meta_data, raw_user_meta_data = excluded.raw_user_meta_data,
         confirmation_token = coalesce(users.confirmation_token, ''), recovery_token = coalesce(users.recovery_token, ''),
         email_change_token_new = coalesce(users.email_change_token_new, ''), email_change = coalesce(users.email_change, ''),
         email_change_token_current = coalesce(users.email_change_token_current, ''),
         phone_change = coalesce(users.phone_change, ''), phone_change_token = coalesce(users.phone_change_token, ''),
         reauthentication_token = coalesce(users.reauthentication_token, ''),
         banned_until = null, deleted_at = null, is_sso_user = false`,
      [s.id, GOTRUE_INSTANCE_ID, s.email, password, meta],
    );
    await client.query(
      `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
       values ($1::text, $1::uuid, $2::jsonb, 'email', now(), now(), now())
       on conflict (provider_id, provider) do update set identity_data = excluded.identity_data, user_id = excluded.user_id,
         created_at = coalesce(identities.created_at, excluded.created_at), updated_at = coalesce(identities.updated_at, excluded.updated_at)`,
      [s.id, JSON.stringify({ sub: s.id, email: s.email, email_verified: true, phone_verified: false })],
    );
  }
}

async function upsertSales(client: Client, specs: readonly TestUserSpec[]): Promise<void> {
  // Only rewrite a row that differs, so the updated_at trigger leaves unchanged rows alone.
  await client.query(
    `insert into public.sales (id, first_name, last_name, email, role, created_at, updated_at)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $6::timestamptz[])
     on conflict (id) do update set first_name = excluded.first_name, last_name = excluded.last_name,
       email = excluded.email, role = excluded.role, disabled = false
     where (sales.first_name, sales.last_name, sales.email, sales.role, sales.disabled)
           is distinct from (excluded.first_name, excluded.last_name, excluded.email, excluded.role, false)`,
    [
      specs.map((s) => s.id),
      specs.map((s) => s.firstName),
      specs.map((s) => s.lastName),
      specs.map((s) => s.email),
      specs.map((s) => s.role),
      specs.map(() => DEFAULT_BASE_TIME),
    ],
  );
}

/**
 * Replaces the test users' own rows with the generated ones (bulk COPY, one statement per table) and
 * upserts the shared segments and tags by name.
 */
async function loadSeedData(
  client: Client,
  tables: ReadonlyMap<string, TableInfo>,
  generated: SeedData,
  specs: readonly TestUserSpec[],
): Promise<Record<string, number>> {
  const ids = specs.map((s) => s.id);
  // Children first, so no cascade has to chase them.
  for (const name of [...SEED_TABLES].reverse()) {
    const t = tables.get(name);
    const owner = t?.columns.some((c) => c.name === 'sales_id')
      ? 'sales_id'
      : t?.columns.some((c) => c.name === 'created_by')
        ? 'created_by'
        : null;
    if (t && owner)
      await client.query(`delete from ${t.qualified} where ${quoteIdent(owner)} = any($1::uuid[])`, [ids]);
  }
  const segmentIds = await upsertReference(client, 'segments', generated, [
    'name',
    'description',
    'created_at',
    'updated_at',
  ]);
  const tagIds = await upsertReference(client, 'tags', generated, [
    'name',
    'color',
    'created_at',
    'updated_at',
  ]);
  const data = remapReferenceIds(generated, segmentIds, tagIds);
  const counts: Record<string, number> = {};
  for (const [name, rows] of data.tables) {
    if (name === 'segments' || name === 'tags' || rows.length === 0) continue;
    const t = tables.get(name);
    if (!t)
      throw new OperationError(
        `Table public.${name} is missing: apply the migrations first (\`npm run migrate:up\`).`,
      );
    const columns = Object.keys(rows[0]!);
    const types = columns.map((c) => t.columns.find((col) => col.name === c)?.type ?? 'text');
    const stream = client.query(copyFrom(`copy ${t.qualified} (${columnList(columns)}) from stdin`));
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
        stream.end(encodeCopyRows(rows, columns, types));
      });
    } catch (err) {
      throw new OperationError(`Loading test data into ${name} failed: ${(err as Error).message}`, {
        cause: err,
        details: [pgFields(err).detail ?? ''],
      });
    }
    counts[name] = rows.length;
  }
  return counts;
}

async function upsertReference(
  client: Client,
  table: 'segments' | 'tags',
  data: SeedData,
  columns: readonly string[],
): Promise<Map<string, string | number>> {
  const rows = data.tables.get(table) ?? [];
  const arrays = columns.map((c) => rows.map((r) => r[c] ?? null));
  const casts = columns.map((c) => (c.endsWith('_at') ? 'timestamptz[]' : 'text[]'));
  await client.query(
    `insert into public.${quoteIdent(table)} (${columnList(columns)})
     select * from unnest(${casts.map((c, i) => `$${i + 1}::${c}`).join(', ')})
     on conflict (name) do nothing`,
    arrays,
  );
  const { rows: found } = await client.query<{ id: string; name: string }>(
    `select id::text, name from public.${quoteIdent(table)} where name = any($1::text[])`,
    [rows.map((r) => String(r.name))],
  );
  return new Map(found.map((r) => [r.name, Number(r.id)]));
}

async function upsertMetadata(client: Client, specs: readonly TestUserSpec[], data: SeedData): Promise<void> {
  for (const s of specs) {
    await client.query(
      `insert into public.test_user_metadata (id, user_id, role, created_by, created_at, test_data_counts)
       values ($1, $2, $3, 'automated_script', $4, $5::jsonb)
       on conflict (user_id) do update set role = excluded.role, test_data_counts = excluded.test_data_counts
       where (test_user_metadata.role, test_user_metadata.test_data_counts) is distinct from (excluded.role, excluded.test_data_counts)`,
      [
        uuidv5(`test_user_metadata:${s.id}`, uuidv5.DNS),
        s.id,
        s.role,
        DEFAULT_BASE_TIME,
        JSON.stringify(data.countsByUser.get(s.id)),
      ],
    );
  }
}
