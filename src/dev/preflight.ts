/**
 * Read-only checks before a push touches anything. Each failure is one sentence and changes nothing.
 */
import type { ColumnInfo, TableInfo } from '../db/catalog.js';
import { readTables } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { ConfigError, OperationError } from '../errors.js';
import { testUserPredicate } from './test-users-sql.js';

export interface ServerIdentity {
  readonly systemId: string;
  readonly database: string;
}

/**
 * Identifies the server and database, and whether the connected role bypasses RLS, in one round trip.
 * The postmaster's start time, the database oid and the port tell two servers apart without
 * pg_control_system(), which only superusers may call (Supabase's `postgres` is not one).
 */
export async function serverIdentity(
  client: Client,
): Promise<ServerIdentity & { role: string; bypassesRls: boolean }> {
  const { rows } = await client.query<{ id: string; db: string; role: string; ok: boolean }>(
    `select pg_postmaster_start_time()::text || '/' || coalesce(inet_server_port(), 0)::text || '/' ||
              (select oid from pg_database where datname = current_database())::text as id,
            current_database() as db, current_user as role,
            (select rolsuper or rolbypassrls from pg_roles where rolname = current_user) as ok`,
  );
  const r = rows[0]!;
  return { systemId: r.id, database: r.db, role: r.role, bypassesRls: r.ok };
}

export interface SchemaDifference {
  readonly table: string;
  readonly problems: readonly string[];
}

/** Compares local tables with the cloud's: every local table and column must exist with the same type. */
export function compareSchemas(local: readonly TableInfo[], cloud: readonly TableInfo[]): SchemaDifference[] {
  const cloudByName = new Map(cloud.map((t) => [t.name, t]));
  const diffs: SchemaDifference[] = [];
  for (const lt of local) {
    const ct = cloudByName.get(lt.name);
    if (!ct) {
      diffs.push({ table: lt.name, problems: ['missing on the cloud'] });
      continue;
    }
    const problems: string[] = [];
    const cloudCols = new Map(ct.columns.map((c) => [c.name, c]));
    for (const lc of lt.columns) {
      const cc = cloudCols.get(lc.name);
      if (!cc) problems.push(`column ${lc.name} missing on the cloud`);
      else if (cc.type !== lc.type)
        problems.push(`column ${lc.name} is ${lc.type} locally but ${cc.type} on the cloud`);
      else if (cc.generated !== lc.generated)
        problems.push(`column ${lc.name} is generated on one side only`);
    }
    const localNames = new Set(lt.columns.map((c) => c.name));
    for (const cc of ct.columns) {
      if (!localNames.has(cc.name) && requiresValue(cc)) {
        problems.push(
          `column ${cc.name} exists only on the cloud and needs a value (NOT NULL without default)`,
        );
      }
    }
    if (problems.length > 0) diffs.push({ table: lt.name, problems });
  }
  return diffs;
}

function requiresValue(c: ColumnInfo): boolean {
  return c.notNull && !c.hasDefault && !c.generated && c.identity === null;
}

export interface PreflightResult {
  readonly localTables: readonly TableInfo[];
  readonly cloudTables: readonly TableInfo[];
  readonly localAuth: readonly TableInfo[];
  readonly cloudAuth: readonly TableInfo[];
  /** Test users the push carries (local). */
  readonly testUserIds: readonly string[];
  /** Cloud-only public tables (left untouched; reported). */
  readonly cloudOnlyTables: readonly string[];
}

/**
 * Runs every check of the push's preflight on two open clients (read-only queries only).
 * @throws ConfigError for same database / roles without RLS bypass; OperationError for drift.
 */
export async function preflight(local: Client, cloud: Client, testDomain: string): Promise<PreflightResult> {
  const [li, ci] = await Promise.all([serverIdentity(local), serverIdentity(cloud)]);
  if (li.systemId === ci.systemId && li.database === ci.database) {
    throw new ConfigError(
      `Local and cloud are the same database (${li.database} on one server); nothing was changed.`,
    );
  }
  for (const [label, r] of [
    ['local', li],
    ['cloud', ci],
  ] as const) {
    if (!r.bypassesRls) {
      throw new ConfigError(
        `The ${label} role ${r.role} is subject to row-level security (not superuser, no BYPASSRLS), so COPY would silently see only some rows; connect as postgres.`,
      );
    }
  }
  const [localTables, cloudTables, localAuth, cloudAuth] = await Promise.all([
    readTables(local, 'public'),
    readTables(cloud, 'public'),
    readTables(local, 'auth'),
    readTables(cloud, 'auth'),
  ]);
  for (const [label, auth] of [
    ['local', localAuth],
    ['cloud', cloudAuth],
  ] as const) {
    if (!auth.some((t) => t.name === 'users') || !auth.some((t) => t.name === 'identities')) {
      throw new ConfigError(
        `The ${label} database has no auth.users/auth.identities: is it a Supabase database?`,
      );
    }
  }
  const diffs = compareSchemas(localTables, cloudTables);
  if (diffs.length > 0) {
    throw new OperationError(
      'The cloud schema differs from local; deploy the migrations first (`npm run migrate:deploy -- cloud`).',
      {
        details: diffs.map((d) => `${d.table}: ${d.problems.join('; ')}`),
      },
    );
  }
  const pred = testUserPredicate(testDomain);
  const { rows: users } = await local.query<{ id: string; email: string }>(
    `select id, lower(email) as email from auth.users where ${pred}`,
  );
  const carried = new Set(users.map((u) => u.id));
  if (localTables.some((t) => t.name === 'sales')) {
    const { rows: sales } = await local.query<{ id: string; email: string }>(
      `select id::text, email from public.sales`,
    );
    const orphans = sales.filter((s) => !carried.has(s.id));
    if (orphans.length > 0) {
      const { rows: onCloud } = await cloud.query<{ id: string }>(
        `select id::text from auth.users where id = any($1::uuid[])`,
        [orphans.map((o) => o.id)],
      );
      const present = new Set(onCloud.map((r) => r.id));
      const missing = orphans.filter((o) => !present.has(o.id));
      if (missing.length > 0) {
        throw new OperationError(
          `Local sales row ${missing[0]!.email} belongs to a user who is neither a @${testDomain} test user nor on the cloud; the cloud could not accept it.`,
          { details: missing.slice(1, 6).map((m) => `also: ${m.email}`) },
        );
      }
    }
  }
  if (users.length > 0) {
    // A cloud user with the same test email but another id is itself a test user: the push removes
    // the cloud's test users that local does not have before inserting local's, so it cannot clash.
    // The push upserts test users by id: a cloud user with such an id who is not a test user (say,
    // a test account whose email was changed to a real one) would be overwritten. Refuse instead.
    const { rows: taken } = await cloud.query<{ email: string | null }>(
      `select email::text from auth.users where id = any($1::uuid[]) and not coalesce(${pred}, false)`,
      [users.map((u) => u.id)],
    );
    if (taken.length > 0) {
      throw new OperationError(
        `The cloud user ${taken[0]!.email ?? '(no email)'} is not a @${testDomain} test user but has the id of a local test user; a push would overwrite it, so nothing was changed.`,
      );
    }
  }
  const localNames = new Set(localTables.map((t) => t.name));
  return {
    localTables,
    cloudTables,
    localAuth,
    cloudAuth,
    testUserIds: users.map((u) => u.id),
    cloudOnlyTables: cloudTables.filter((t) => !localNames.has(t.name)).map((t) => t.name),
  };
}
