/**
 * The push's own read-only checks, after the common preflight (src/preflight/preflight.ts: server
 * identity, role capabilities, backup folder, test-user ids): both databases are Supabase databases,
 * the cloud schema can take local's rows, and every local row's owner exists on the cloud. Each
 * failure is one sentence and changes nothing.
 */
import type { QueryResult } from 'pg';
import type { ColumnInfo, ForeignKey, TableInfo } from '../db/catalog.js';
import { foreignKeysSql, readTables, readTablesSql, tablesFrom } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { ConfigError, OperationError } from '../errors.js';
import { testUserPredicate } from './test-users-sql.js';

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
  /** The foreign keys of the cloud's public tables (the ownership walk of the non-test rows). */
  readonly cloudForeignKeys: readonly ForeignKey[];
  /** Test users the push carries (local). */
  readonly testUserIds: readonly string[];
  /** Cloud-only public tables (left untouched; reported). */
  readonly cloudOnlyTables: readonly string[];
}

/** Ids of local's test users (the ones a push carries); none when local has no auth.users. */
export async function localTestUserIds(local: Client, testDomain: string): Promise<string[]> {
  const { rows: ok } = await local.query<{ ok: boolean }>(
    `select to_regclass('auth.users') is not null as ok`,
  );
  if (!ok[0]!.ok) return [];
  const { rows } = await local.query<{ id: string }>(
    `select id::text from auth.users where ${testUserPredicate(testDomain)} order by 1`,
  );
  return rows.map((r) => r.id);
}

/** The cloud's public and auth tables and its public foreign keys, in one round trip. */
async function readCloudCatalog(cloud: Client): Promise<{
  cloudTables: TableInfo[];
  cloudAuth: TableInfo[];
  cloudForeignKeys: ForeignKey[];
}> {
  const results = (await cloud.query(
    [readTablesSql('public'), readTablesSql('auth'), foreignKeysSql('public')].join(';\n'),
  )) as unknown as QueryResult[];
  return {
    cloudTables: tablesFrom(results.slice(0, 2), 'public'),
    cloudAuth: tablesFrom(results.slice(2, 4), 'auth'),
    cloudForeignKeys: results[4]!.rows as ForeignKey[],
  };
}

/**
 * The push's own checks on two open clients (read-only queries only).
 * @throws ConfigError when a side is not a Supabase database; OperationError for schema drift or
 * local rows whose owner the cloud lacks.
 */
export async function checkPushable(
  local: Client,
  cloud: Client,
  testDomain: string,
): Promise<PreflightResult> {
  const [localTables, localAuth, cloud3] = await Promise.all([
    readTables(local, 'public'),
    readTables(local, 'auth'),
    readCloudCatalog(cloud),
  ]);
  const { cloudTables, cloudAuth, cloudForeignKeys } = cloud3;
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
  const localNames = new Set(localTables.map((t) => t.name));
  return {
    localTables,
    cloudTables,
    localAuth,
    cloudAuth,
    cloudForeignKeys,
    testUserIds: users.map((u) => u.id),
    cloudOnlyTables: cloudTables.filter((t) => !localNames.has(t.name)).map((t) => t.name),
  };
}
