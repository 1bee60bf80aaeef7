/**
 * `dev:verify`: local/cloud parity. For every public table, row counts AND an order-independent
 * content checksum; the test users on both sides with equal password hashes; the same migration
 * history. Returns a report; the CLI turns a difference into exit 1.
 */
import type { Config, DatabaseTarget } from '../config.js';
import { requireCloud } from '../config.js';
import type { TableInfo } from '../db/catalog.js';
import { readTables } from '../db/catalog.js';
import type { TableChecksum } from '../db/checksum.js';
import { checksumTables } from '../db/checksum.js';
import type { Client } from '../db/connect.js';
import { withClient } from '../db/connect.js';
import type { TableDiff } from '../db/row-diff.js';
import { diffTable } from '../db/row-diff.js';
import { checksumMatviews, readMatviews } from '../db/matviews.js';
import type { SequenceComparison } from '../db/sequences.js';
import type { Read } from '../db/read-together.js';
import { readsOf, readTogether, valueRead } from '../db/read-together.js';
import { compareSequences } from '../db/sequences.js';
import { testUserPredicate } from './test-users-sql.js';

export interface TableComparison {
  readonly table: string;
  readonly local: TableChecksum | null;
  readonly cloud: TableChecksum | null;
  readonly equal: boolean;
}

export interface UserComparison {
  readonly email: string;
  readonly onLocal: boolean;
  readonly onCloud: boolean;
  /** Same id and same password hash on both sides. */
  readonly equal: boolean;
}

export interface VerifyReport {
  readonly tables: readonly TableComparison[];
  readonly tablesEqual: boolean;
  readonly users: readonly UserComparison[];
  readonly usersEqual: boolean;
  readonly history: {
    readonly local: readonly string[];
    readonly cloud: readonly string[];
    readonly equal: boolean;
  };
  /**
   * Every sequence the public tables use: the cloud's next value must be past every value its rows
   * hold and not behind local's (else the cloud's next insert collides).
   */
  readonly sequences: readonly SequenceComparison[];
  readonly sequencesOk: boolean;
  /** Materialized views in public, compared like tables (an unpopulated one has no checksum). */
  readonly matviews: readonly TableComparison[];
  readonly matviewsEqual: boolean;
  readonly equal: boolean;
  readonly totalRows: { readonly local: number; readonly cloud: number };
  /** With `diff`: the differing rows of each differing table, and the queries that took. */
  readonly diff?: { readonly tables: readonly TableDiff[]; readonly queries: number };
}

export interface VerifyOptions {
  /** Compare local with this database instead of the configured cloud. */
  readonly cloud?: DatabaseTarget;
  /** Name the differing rows by primary key, `limit` per table and kind. */
  readonly diff?: { readonly limit: number };
}

/** Pairs per-table checksums by table name; a table on one side only is a difference. */
export function compareChecksums(
  local: readonly TableChecksum[],
  cloud: readonly TableChecksum[],
): TableComparison[] {
  const cloudBy = new Map(cloud.map((c) => [c.table, c]));
  const localBy = new Map(local.map((c) => [c.table, c]));
  const names = [...new Set([...localBy.keys(), ...cloudBy.keys()])].sort();
  return names.map((table) => {
    const l = localBy.get(table) ?? null;
    const c = cloudBy.get(table) ?? null;
    return {
      table,
      local: l,
      cloud: c,
      equal: l !== null && c !== null && l.rows === c.rows && l.checksum === c.checksum,
    };
  });
}

interface UserRow {
  id: string;
  email: string;
  encrypted_password: string | null;
}

/**
 * The test users and whether the migration history table exists, as one {@link Read} (two
 * statements, sent along with other reads).
 */
function usersRead(domain: string): Read<{ users: UserRow[]; hasHistory: boolean }> {
  return {
    sql: [
      `select id::text, lower(email) as email, encrypted_password from auth.users where ${testUserPredicate(domain)} order by 2`,
      `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`,
    ],
    from: ([users, exists]) => ({
      users: users!.rows as UserRow[],
      hasHistory: Boolean((exists!.rows[0] as { ok: boolean }).ok),
    }),
  };
}

/** The applied migrations' versions, oldest first (none without a history table). */
async function readHistory(client: Client, hasHistory: boolean): Promise<string[]> {
  if (!hasHistory) return [];
  const { rows } = await client.query<{ version: string }>(
    'select version from supabase_migrations.schema_migrations order by version',
  );
  return rows.map((r) => r.version);
}

/** The test users and the migration history, in two round trips. */
async function usersAndHistory(
  client: Client,
  domain: string,
): Promise<{ users: UserRow[]; history: string[] }> {
  const [{ users, hasHistory }] = await readTogether(client, usersRead(domain));
  return { users, history: await readHistory(client, hasHistory) };
}

/**
 * Completes a report from table comparisons with test users, sequences and migration history (open
 * clients). `tables` may be a {@link Read} on the cloud (its checksums compared with local's): it is
 * then sent with the cloud's test users and sequence counters, in one round trip.
 */
export async function verifyOpen(
  local: Client,
  cloud: Client,
  tables: readonly TableComparison[] | Read<readonly TableComparison[]>,
  domain: string,
  matviews: readonly TableComparison[] = [],
): Promise<VerifyReport> {
  const tablesRead: Read<readonly TableComparison[]> = 'from' in tables ? tables : valueRead(tables);
  const [mine, theirs] = await Promise.all([
    usersAndHistory(local, domain),
    compareSequences(local, cloud, readsOf(tablesRead, usersRead(domain))),
  ]);
  const [compared, { users: cu, hasHistory }] = theirs.extra;
  const hc = await readHistory(cloud, hasHistory);
  return reportFrom(
    compared,
    { local: mine.users, cloud: cu },
    { local: mine.history, cloud: hc },
    theirs.sequences,
    matviews,
  );
}

function compareUsers(lu: readonly UserRow[], cu: readonly UserRow[]): UserComparison[] {
  const cloudUsers = new Map(cu.map((u) => [u.email, u]));
  const localUsers = new Map(lu.map((u) => [u.email, u]));
  const emails = [...new Set([...localUsers.keys(), ...cloudUsers.keys()])].sort();
  return emails.map((email) => {
    const l = localUsers.get(email);
    const c = cloudUsers.get(email);
    return {
      email,
      onLocal: l !== undefined,
      onCloud: c !== undefined,
      equal:
        l !== undefined && c !== undefined && l.id === c.id && l.encrypted_password === c.encrypted_password,
    };
  });
}

function reportFrom(
  tables: readonly TableComparison[],
  sides: { local: readonly UserRow[]; cloud: readonly UserRow[] },
  history: { local: readonly string[]; cloud: readonly string[] },
  sequences: readonly SequenceComparison[],
  matviews: readonly TableComparison[],
): VerifyReport {
  const users = compareUsers(sides.local, sides.cloud);
  const { local: hl, cloud: hc } = history;
  const tablesEqual = tables.every((t) => t.equal);
  const usersEqual = users.every((u) => u.equal);
  const historyEqual = hl.length === hc.length && hl.every((v, i) => v === hc[i]);
  const sequencesOk = sequences.every((s) => s.ok);
  const matviewsEqual = matviews.every((m) => m.equal);
  return {
    tables,
    tablesEqual,
    users,
    usersEqual,
    history: { local: hl, cloud: hc, equal: historyEqual },
    sequences,
    sequencesOk,
    matviews,
    matviewsEqual,
    equal: tablesEqual && usersEqual && historyEqual && sequencesOk && matviewsEqual,
    totalRows: {
      local: tables.reduce((a, t) => a + (t.local?.rows ?? 0), 0),
      cloud: tables.reduce((a, t) => a + (t.cloud?.rows ?? 0), 0),
    },
  };
}

/** The materialized views of both sides, compared by content. */
async function compareMatviews(local: Client, cloud: Client): Promise<TableComparison[]> {
  const sums = await Promise.all(
    [local, cloud].map(async (c) => checksumMatviews(c, await readMatviews(c, 'public'))),
  );
  return compareChecksums(sums[0]!, sums[1]!);
}

/** The rows that differ, for each table present on both sides whose checksums differ. */
async function diffTables(
  sides: readonly [Client, Client],
  tables: readonly [readonly TableInfo[], readonly TableInfo[]],
  report: VerifyReport,
  columns: (mine: TableInfo, theirs: readonly TableInfo[]) => readonly string[],
  limit: number,
): Promise<NonNullable<VerifyReport['diff']>> {
  const out: TableDiff[] = [];
  for (const t of report.tables) {
    if (t.equal || !t.local || !t.cloud) continue;
    const [lt, ct] = tables.map((list) => list.find((x) => x.name === t.table)!) as [TableInfo, TableInfo];
    out.push(
      await diffTable(
        { client: sides[0], table: lt, rows: t.local.rows },
        { client: sides[1], table: ct, rows: t.cloud.rows },
        columns(lt, tables[1]),
        { limit },
      ),
    );
  }
  return { tables: out, queries: out.reduce((n, d) => n + d.queries, 0) };
}

/** Connects to both sides and compares them; checksums are computed on both servers in parallel. */
export async function verifyParity(config: Config, options: VerifyOptions = {}): Promise<VerifyReport> {
  const cloudTarget = options.cloud ?? requireCloud(config);
  return withClient(
    config.local.url,
    (local) =>
      withClient(
        cloudTarget.url,
        async (cloud) => {
          // One snapshot per side, so a table's count and checksum describe the same moment.
          await Promise.all(
            [local, cloud].map((c) => c.query('begin isolation level repeatable read read only')),
          );
          try {
            const [lt, ct] = await Promise.all([readTables(local, 'public'), readTables(cloud, 'public')]);
            // Hash the columns both sides have: a column that exists on one side only is schema
            // drift (reported by the migration history), not a data difference.
            const other = (mine: TableInfo, theirs: readonly TableInfo[]): readonly string[] => {
              const t = theirs.find((x) => x.name === mine.name);
              const names = new Set(t?.columns.map((c) => c.name) ?? mine.columns.map((c) => c.name));
              return mine.columns.map((c) => c.name).filter((n) => names.has(n));
            };
            const [l, c, matviews] = await Promise.all([
              checksumTables(local, lt, (t) => other(t, ct)),
              checksumTables(cloud, ct, (t) => other(t, lt)),
              compareMatviews(local, cloud),
            ]);
            const report = await verifyOpen(
              local,
              cloud,
              compareChecksums(l, c),
              config.testUsers.emailDomain,
              matviews,
            );
            if (!options.diff) return report;
            const diff = await diffTables([local, cloud], [lt, ct], report, other, options.diff.limit);
            return { ...report, diff };
          } finally {
            await Promise.all([local, cloud].map((c) => c.query('rollback').catch(() => undefined)));
          }
        },
        { label: 'cloud' },
      ),
    { label: 'local' },
  );
}
