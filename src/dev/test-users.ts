/**
 * `dev:users:create`: the three test users (admin, sales director, account manager) with realistic,
 * deterministic CRM data, in one transaction. Idempotent: a second run leaves exactly the same rows
 * (same ids, same content) and touches no other user or their data.
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { v5 as uuidv5 } from 'uuid';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config, DatabaseTarget } from '../config.js';
import type { TableInfo } from '../db/catalog.js';
import { readTables } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { pgFields, withLockedClient, withTransaction } from '../db/connect.js';
import { encodeCopyChunks } from '../db/copy-text.js';
import { columnList, quoteIdent } from '../db/sql.js';
import { CrmEnvError, OperationError } from '../errors.js';
import { endOnAbort, interruptible } from '../interrupt.js';
import { runPreflight } from '../preflight/preflight.js';
import { redactText } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import { findNonTestRows, refuseNonTestData } from './non-test-data.js';
import type {
  ReferenceId,
  SeedRole,
  SeedRow,
  SeedStream,
  SeedTable,
  SeedTableName,
  SeedUser,
  SeedVolumes,
} from '../seed/generate.js';
import {
  DEFAULT_BASE_TIME,
  DEFAULT_VOLUMES,
  referenceIdRemapper,
  SEED_COLUMN_TYPES,
  SEED_TABLES,
  streamSeedData,
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

/** Each test user with the rows generated for it (what users create and seed export report). */
export function userSummaries(
  specs: readonly TestUserSpec[],
  data: { readonly countsByUser: ReadonlyMap<string, Record<string, number>> },
): UserSummary[] {
  return specs.map((s) => ({ email: s.email, role: s.role, id: s.id, counts: data.countsByUser.get(s.id)! }));
}

export interface CreateUsersResult {
  readonly users: readonly UserSummary[];
  readonly rowsByTable: Record<string, number>;
  readonly ms: number;
}

/**
 * The data set for the configured users, as a stream that generates each table while it is read
 * (pure; no database). Throws a ConfigError at once when the settings are invalid.
 */
export function seedStreamForConfig(config: Config, specs: readonly TestUserSpec[]): SeedStream {
  const users: SeedUser[] = specs.map((s) => ({
    id: s.id,
    email: s.email,
    role: s.role,
    volumes: volumesFor(config, s.role),
  }));
  return streamSeedData({
    seed: config.seed.seed,
    users,
    opportunity: config.opportunity,
    baseTime: DEFAULT_BASE_TIME,
  });
}

export interface CreateUsersOptions {
  /** Stops the run (Ctrl-C): the connection ends and the transaction rolls back. */
  readonly signal?: AbortSignal;
  /**
   * The user chose to let the run delete or change rows of non-test users that reference the test
   * users' rows it replaces (`--delete-non-test-data`); without it such rows make it refuse.
   */
  readonly deleteNonTestData?: boolean;
}

/**
 * Creates or refreshes the test users and their data on `target`, all in one transaction, after the
 * preflight (server identity, role capabilities, no non-test account holding a test user's id, no
 * non-test rows hanging off the rows it replaces).
 */
export async function createTestUsers(
  config: Config,
  target: DatabaseTarget,
  reporter: Reporter = silentReporter,
  options: CreateUsersOptions = {},
): Promise<CreateUsersResult> {
  // Invalid settings fail here, before anything connects.
  const data = seedStreamForConfig(config, testUserSpecs(config));
  const lock = {
    label: target.label,
    lock: 'seed',
    busyMessage:
      'Another crm-env run is creating test users on this database; try again when it has finished.',
  } as const;
  const interrupted = 'users create interrupted; its transaction was rolled back and nothing was changed.';
  return interruptible(options.signal, interrupted, () =>
    withLockedClient(target.url, lock, async (client) => {
      const stop = endOnAbort(options.signal, [client]);
      try {
        await preflightTestUsers(config, target, client, options);
        return await withTransaction(client, () => writeTestUsers(client, config, reporter, data)).catch(
          (err: unknown) => {
            throw asWriteFailure(err, target, config);
          },
        );
      } finally {
        stop();
      }
    }),
  );
}

/** The read-only checks of users create, on its locked connection. */
async function preflightTestUsers(
  config: Config,
  target: DatabaseTarget,
  client: Client,
  options: CreateUsersOptions,
): Promise<void> {
  await runPreflight(config, {
    command: 'users create',
    signal: options.signal,
    databases: [
      {
        target,
        client,
        needs: ['bypass-rls', 'write-data', 'write-auth'],
        testUserIds: testUserSpecs(config).map((s) => s.id),
        upsertsIdentities: true,
      },
    ],
  });
  const hanging = await findNonTestRows(client, config.testUsers.emailDomain, target.label, {
    scope: 'referencing-test-rows',
  });
  refuseNonTestData(
    [hanging],
    options.deleteNonTestData ?? false,
    "Replacing the test users' rows would delete or change",
  );
}

/** A server error inside the transaction (already rolled back), as one sentence. */
function asWriteFailure(err: unknown, target: DatabaseTarget, config: Config): unknown {
  if (err instanceof CrmEnvError || !(err instanceof Error)) return err;
  const { detail } = pgFields(err);
  return new OperationError(
    `users create failed on the ${target.label} database: ${redactText(err.message, config.secrets)}; its transaction was rolled back and nothing was changed.`,
    { cause: err, details: detail ? [redactText(detail, config.secrets)] : [] },
  );
}

/**
 * Writes the test users and their data through `client`, inside the caller's open transaction (reset
 * uses it in the same transaction as its rebuild).
 */
export async function writeTestUsers(
  client: Client,
  config: Config,
  reporter: Reporter = silentReporter,
  data: SeedStream = seedStreamForConfig(config, testUserSpecs(config)),
): Promise<CreateUsersResult> {
  const t0 = performance.now();
  const specs = testUserSpecs(config);
  reporter.step('1️⃣  Creating auth.users...');
  await upsertAuthUsers(client, specs, config.testUsers.password);
  reporter.step('2️⃣  Creating public.sales records...');
  await runStatement(client, salesStatement(specs));
  reporter.step('3️⃣  Generating test data...');
  const tables = new Map((await readTables(client, 'public')).map((t) => [t.name, t]));
  const rowsByTable = await loadSeedData(client, tables, data, specs, reporter);
  for (const s of specs) {
    const c = data.countsByUser.get(s.id)!;
    reporter.info(
      `→ ${label(s.role)} data: ${c.contacts} contacts, ${c.organizations} orgs, ${c.opportunities} opportunities`,
    );
  }
  reporter.step('4️⃣  Recording test user metadata...');
  await upsertMetadata(client, specs, data);
  return {
    users: userSummaries(specs, data),
    rowsByTable,
    ms: performance.now() - t0,
  };
}

export function label(role: SeedRole): string {
  return role === 'admin' ? 'Admin' : role === 'sales_director' ? 'Director' : 'Manager';
}

/**
 * One SQL statement with its parameter lists, run once per list. `users create` runs it with
 * parameters; `seed export` writes the same text into seed.sql as PREPARE/EXECUTE, so the file and
 * the command cannot drift apart.
 */
export interface SeedStatement {
  /** Short name (seed.sql prepares it as crm_env_seed_<name>). */
  readonly name: string;
  readonly text: string;
  readonly runs: readonly (readonly unknown[])[];
}

async function runStatement(client: Client, statement: SeedStatement): Promise<void> {
  for (const values of statement.runs) await client.query(statement.text, [...values]);
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
  for (const statement of authStatements(specs, password)) await runStatement(client, statement);
}

/**
 * The auth.users and auth.identities upserts. The hash is made by the server (pgcrypto's bcrypt,
 * fresh salt), so no hash is ever computed or held here.
 */
export function authStatements(specs: readonly TestUserSpec[], password: string): SeedStatement[] {
  const users: SeedStatement = {
    name: 'auth_user',
    text: `insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at,
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
    runs: specs.map((s) => [
      s.id,
      GOTRUE_INSTANCE_ID,
      s.email,
      password,
      JSON.stringify({ full_name: s.fullName, role: s.role }),
    ]),
  };
  const identities: SeedStatement = {
    name: 'auth_identity',
    text: `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
       values ($1::text, $1::uuid, $2::jsonb, 'email', now(), now(), now())
       on conflict (provider_id, provider) do update set identity_data = excluded.identity_data, user_id = excluded.user_id,
         created_at = coalesce(identities.created_at, excluded.created_at), updated_at = coalesce(identities.updated_at, excluded.updated_at)`,
    runs: specs.map((s) => [
      s.id,
      JSON.stringify({ sub: s.id, email: s.email, email_verified: true, phone_verified: false }),
    ]),
  };
  return [users, identities];
}

/** The public.sales upsert. Only a row that differs is rewritten, so the updated_at trigger leaves unchanged rows alone. */
export function salesStatement(specs: readonly TestUserSpec[]): SeedStatement {
  return {
    name: 'sales',
    text: `insert into public.sales (id, first_name, last_name, email, role, created_at, updated_at)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $6::timestamptz[])
     on conflict (id) do update set first_name = excluded.first_name, last_name = excluded.last_name,
       email = excluded.email, role = excluded.role, disabled = false
     where (sales.first_name, sales.last_name, sales.email, sales.role, sales.disabled)
           is distinct from (excluded.first_name, excluded.last_name, excluded.email, excluded.role, false)`,
    runs: [
      [
        specs.map((s) => s.id),
        specs.map((s) => s.firstName),
        specs.map((s) => s.lastName),
        specs.map((s) => s.email),
        specs.map((s) => s.role),
        specs.map(() => DEFAULT_BASE_TIME),
      ],
    ],
  };
}

/**
 * Replaces the test users' own rows with the generated ones (bulk COPY, one statement per table,
 * streamed as the rows are generated) and upserts the shared segments and tags by name.
 */
async function loadSeedData(
  client: Client,
  tables: ReadonlyMap<string, TableInfo>,
  stream: SeedStream,
  specs: readonly TestUserSpec[],
  reporter: Reporter,
): Promise<Record<string, number>> {
  await deleteOwnedRows(client, tables, specs, reporter);
  const referenceIds = new Map<string, Map<string, ReferenceId>>();
  let remap: ((table: SeedTableName, row: SeedRow) => SeedRow) | undefined;
  const counts: Record<string, number> = {};
  // Segments and tags come first in the stream; every later table may point at them.
  for (const table of stream.tables) {
    if (table.name === 'segments' || table.name === 'tags') {
      referenceIds.set(table.name, await upsertReference(client, table.name, Array.from(table.rows)));
      continue;
    }
    remap ??= referenceIdRemapper(referenceIds.get('segments')!, referenceIds.get('tags')!);
    const loaded = await copySeedTable(client, tables.get(table.name), table, remap, reporter);
    if (loaded > 0) counts[table.name] = loaded;
  }
  return counts;
}

/** Deletes the test users' rows, children first so no cascade has to chase them. */
async function deleteOwnedRows(
  client: Client,
  tables: ReadonlyMap<string, TableInfo>,
  specs: readonly TestUserSpec[],
  reporter: Reporter,
): Promise<void> {
  const children = [...SEED_TABLES].reverse();
  const progress = (label: string, done: number) =>
    reporter.progress({ label, done, total: children.length, unit: 'tables' });
  for (const [i, name] of children.entries()) {
    progress(`removing previous ${name}`, i);
    const t = tables.get(name);
    const owner = t?.columns.some((c) => c.name === 'sales_id')
      ? 'sales_id'
      : t?.columns.some((c) => c.name === 'created_by')
        ? 'created_by'
        : null;
    if (t && owner)
      await client.query(`delete from ${t.qualified} where ${quoteIdent(owner)} = any($1::uuid[])`, [
        specs.map((s) => s.id),
      ]);
  }
  progress('removed previous test data', children.length);
}

/**
 * Streams one generated table into the database with COPY: rows are generated only as fast as the
 * server takes them (pipeline back-pressure), so memory stays bounded whatever the volume.
 * Returns the rows loaded (0, and no COPY, for an empty table).
 */
async function copySeedTable(
  client: Client,
  info: TableInfo | undefined,
  table: SeedTable,
  remap: (table: SeedTableName, row: SeedRow) => SeedRow,
  reporter: Reporter,
): Promise<number> {
  const rows = table.rows[Symbol.iterator]();
  const first = rows.next();
  if (first.done) return 0;
  if (!info)
    throw new OperationError(
      `Table public.${table.name} is missing: apply the migrations first (\`npm run migrate:up\`).`,
    );
  const columns = Object.keys(SEED_COLUMN_TYPES[table.name]);
  const types = columns.map((c) => info.columns.find((col) => col.name === c)?.type ?? 'text');
  const progress = { label: table.name, total: table.total, done: 0, bytes: 0 };
  function* remapped(): Generator<SeedRow> {
    yield remap(table.name, first.value!);
    progress.done++;
    for (let next = rows.next(); !next.done; next = rows.next()) {
      yield remap(table.name, next.value);
      progress.done++;
    }
  }
  function* chunks(): Generator<Buffer> {
    for (const text of encodeCopyChunks(remapped(), columns, types)) {
      const chunk = Buffer.from(text);
      progress.bytes += chunk.length;
      reporter.progress(progress);
      yield chunk;
    }
    // The server checks the foreign keys of all rows at the end of the COPY: minutes for millions.
    reporter.progress({ ...progress, note: 'all rows sent; the server is checking them' });
  }
  reporter.progress(progress);
  try {
    await pipeline(
      Readable.from(chunks()),
      client.query(copyFrom(`copy ${info.qualified} (${columnList(columns)}) from stdin`)),
    );
  } catch (err) {
    throw new OperationError(`Loading test data into ${table.name} failed: ${(err as Error).message}`, {
      cause: err,
      details: [pgFields(err).detail ?? ''],
    });
  }
  reporter.progress({ ...progress, final: true });
  return progress.done;
}

async function upsertReference(
  client: Client,
  table: 'segments' | 'tags',
  rows: readonly SeedRow[],
): Promise<Map<string, ReferenceId>> {
  await runStatement(client, referenceStatement(table, rows));
  const { rows: found } = await client.query<{ id: string; name: string }>(
    `select id::text, name from public.${quoteIdent(table)} where name = any($1::text[])`,
    [rows.map((r) => String(r.name))],
  );
  return new Map(found.map((r) => [r.name, Number(r.id)]));
}

/**
 * Inserts the segments or tags that are missing, by name, without their ids: the identity assigns
 * them (see referenceIdRemapper for how rows pointing at them are rewritten).
 */
export function referenceStatement(table: 'segments' | 'tags', rows: readonly SeedRow[]): SeedStatement {
  const columns = Object.keys(SEED_COLUMN_TYPES[table]).filter((c) => c !== 'id');
  const casts = columns.map((c) => (c.endsWith('_at') ? 'timestamptz[]' : 'text[]'));
  return {
    name: table,
    text: `insert into public.${quoteIdent(table)} (${columnList(columns)})
     select * from unnest(${casts.map((c, i) => `$${i + 1}::${c}`).join(', ')})
     on conflict (name) do nothing`,
    runs: [columns.map((c) => rows.map((r) => r[c] ?? null))],
  };
}

async function upsertMetadata(
  client: Client,
  specs: readonly TestUserSpec[],
  data: SeedStream,
): Promise<void> {
  await runStatement(client, metadataStatement(specs, data.countsByUser));
}

/** The test_user_metadata upsert: one row per user with the rows generated for them. */
export function metadataStatement(
  specs: readonly TestUserSpec[],
  countsByUser: ReadonlyMap<string, Record<string, number>>,
): SeedStatement {
  return {
    name: 'test_user_metadata',
    text: `insert into public.test_user_metadata (id, user_id, role, created_by, created_at, test_data_counts)
       values ($1, $2, $3, 'automated_script', $4, $5::jsonb)
       on conflict (user_id) do update set role = excluded.role, test_data_counts = excluded.test_data_counts
       where (test_user_metadata.role, test_user_metadata.test_data_counts) is distinct from (excluded.role, excluded.test_data_counts)`,
    runs: specs.map((s) => [
      uuidv5(`test_user_metadata:${s.id}`, uuidv5.DNS),
      s.id,
      s.role,
      DEFAULT_BASE_TIME,
      JSON.stringify(countsByUser.get(s.id)),
    ]),
  };
}
