/**
 * `sync push --dry-run`: what a push would do to the cloud, changing nothing.
 *
 * It runs the push's own steps up to its plan — the read-only checks and the non-test rows it would
 * remove ({@link inspectPush}), the transfer plan ({@link planTransfer}) — and adds what only a report
 * needs: the cloud's row counts now and the test users added, replaced and removed. Each side is read
 * in ONE `REPEATABLE READ READ ONLY` transaction, so every number comes from one snapshot, and no
 * lock beyond a read's ACCESS SHARE is taken (no table lock, not the push's advisory lock): writers on
 * the cloud never wait for a dry run. The rows of non-test users are reported, not refused.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import { requireCloud } from '../config.js';
import type { TableInfo } from '../db/catalog.js';
import type { Client } from '../db/connect.js';
import { endOnAbort, interruptible, stopIfInterrupted } from '../interrupt.js';
import { redactUrl } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { NonTestDataReport } from './non-test-data.js';
import type { TransferPlan } from './sync.js';
import { inspectPush, openSessions, planTransfer } from './sync.js';
import { testUserPredicate } from './test-users-sql.js';

export interface DryRunOptions {
  /** Aborts the dry run (Ctrl-C): its connections end; there is nothing to roll back. */
  readonly signal?: AbortSignal;
  /** The push would be given `--delete-non-test-data`: its rows are then removed, not refused. */
  readonly deleteNonTestData?: boolean;
}

/** One table the push replaces: its rows on the cloud now and after the push. */
export interface PlannedTable {
  /** Public table name, or `auth.users` / `auth.identities`. */
  readonly table: string;
  readonly rowsNow: number;
  readonly rowsAfter: number;
  /** Rows of non-test users the push would remove (local does not hold them byte for byte). */
  readonly nonTestRowsRemoved: number;
}

export interface PushDryRunResult {
  readonly dryRun: true;
  readonly cloud: string;
  readonly tables: readonly PlannedTable[];
  /** Test users by email: only on local (added), on both (replaced by local's), only on the cloud (removed). */
  readonly testUsers: {
    readonly added: readonly string[];
    readonly replaced: readonly string[];
    readonly removed: readonly string[];
  };
  /** The non-test users' rows the push would remove, per table, with their owners. */
  readonly nonTestData: NonTestDataReport;
  /** The push (with the same options) would refuse because of them, changing nothing. */
  readonly wouldRefuse: boolean;
  /** Cloud tables local does not have: the push leaves them untouched. */
  readonly cloudOnlyTables: readonly string[];
  /** Sequences the push would move. */
  readonly sequences: number;
  readonly ms: number;
}

/** A test user on one side, with how many identities it has there. */
interface TestUserRow {
  readonly id: string;
  readonly email: string;
  readonly identities: number;
}

/**
 * Plans a push and reports it; changes nothing. Throws what the push's checks throw (exit 2 or 1,
 * nothing changed) except for non-test rows, which are reported.
 */
export async function planPush(
  config: Config,
  options: DryRunOptions = {},
  reporter: Reporter = silentReporter,
): Promise<PushDryRunResult> {
  const cloudTarget = requireCloud(config);
  const t0 = performance.now();
  const interrupted = 'Dry run interrupted; nothing was changed.';
  stopIfInterrupted(options.signal, interrupted);
  const sessions = await openSessions(config, cloudTarget);
  const all = [sessions.local, sessions.cloud, sessions.snapshotReader];
  const stopEnding = endOnAbort(options.signal, all);
  try {
    return await interruptible(options.signal, interrupted, async () => {
      const { local, cloud } = sessions;
      for (const c of [local, cloud]) await c.query('begin isolation level repeatable read read only');
      reporter.step('🔎 Preflight checks and plan (read-only, nothing is locked or changed)...');
      const { pre, nonTestData } = await inspectPush(config, cloudTarget, sessions, options.signal);
      const plan = await planTransfer({
        local,
        cloud,
        config,
        reporter,
        pre,
        options: { force: false, signal: options.signal, deleteNonTestData: options.deleteNonTestData },
      });
      const tables = await plannedTables(local, cloud, plan, nonTestData, config.testUsers.emailDomain);
      for (const c of [local, cloud]) await c.query('rollback');
      return {
        dryRun: true as const,
        cloud: redactUrl(cloudTarget.url),
        tables: tables.tables,
        testUsers: tables.testUsers,
        nonTestData,
        wouldRefuse: nonTestData.rows > 0 && !(options.deleteNonTestData ?? false),
        cloudOnlyTables: pre.cloudOnlyTables,
        sequences: plan.moves.count,
        ms: performance.now() - t0,
      };
    });
  } finally {
    stopEnding();
    await Promise.allSettled(all.map((c) => c.end()));
  }
}

/** Rows per cloud table in one query (inside the caller's snapshot). */
async function countRows(cloud: Client, tables: readonly TableInfo[]): Promise<number[]> {
  if (tables.length === 0) return [];
  const { rows } = await cloud.query<{ i: number; n: string }>(
    tables
      .map((t, i) => `select ${i} as i, count(*)::bigint::text as n from ${t.source}`)
      .join(' union all '),
  );
  const byIndex = new Map(rows.map((r) => [Number(r.i), Number(r.n)]));
  return tables.map((_, i) => byIndex.get(i)!);
}

async function testUsersOn(
  client: Client,
  users: TableInfo,
  identities: TableInfo,
  pred: string,
): Promise<TestUserRow[]> {
  const { rows } = await client.query<TestUserRow>(
    `select u.id::text, lower(u.email) as email,
            (select count(*) from ${identities.qualified} i where i.user_id = u.id)::int as identities
       from ${users.qualified} u where ${pred} order by 2, 1`,
  );
  return rows;
}

/** Per table (public ones in foreign-key order, then auth): rows now → after; the test users' fate. */
async function plannedTables(
  local: Client,
  cloud: Client,
  plan: TransferPlan,
  nonTestData: NonTestDataReport,
  domain: string,
): Promise<Pick<PushDryRunResult, 'tables' | 'testUsers'>> {
  const { users, identities } = plan.load;
  const pred = testUserPredicate(domain, 'u.email');
  const now = await countRows(cloud, [...plan.cloudTables, users.cloud, identities.cloud]);
  const onLocal = await testUsersOn(local, users.local, identities.local, pred);
  const onCloud = await testUsersOn(cloud, users.cloud, identities.cloud, pred);
  const removedRows = new Map(nonTestData.tables.map((t) => [t.table, t.rows]));
  const tables: PlannedTable[] = plan.load.plan.tables.map((t, i) => ({
    table: t.cloud.name,
    rowsNow: now[i]!,
    rowsAfter: t.rows,
    nonTestRowsRemoved: removedRows.get(t.cloud.name) ?? 0,
  }));
  const localIds = new Set(onLocal.map((u) => u.id));
  const cloudIds = new Set(onCloud.map((u) => u.id));
  const sum = (rows: readonly TestUserRow[]): number => rows.reduce((a, u) => a + u.identities, 0);
  const n = plan.cloudTables.length;
  // The push deletes the cloud's test users (and their identities) and inserts local's.
  tables.push(
    {
      table: 'auth.users',
      rowsNow: now[n]!,
      rowsAfter: now[n]! - onCloud.length + onLocal.length,
      nonTestRowsRemoved: 0,
    },
    {
      table: 'auth.identities',
      rowsNow: now[n + 1]!,
      rowsAfter: now[n + 1]! - sum(onCloud) + sum(onLocal),
      nonTestRowsRemoved: 0,
    },
  );
  return {
    tables,
    testUsers: {
      added: onLocal.filter((u) => !cloudIds.has(u.id)).map((u) => u.email),
      replaced: onLocal.filter((u) => cloudIds.has(u.id)).map((u) => u.email),
      removed: onCloud.filter((u) => !localIds.has(u.id)).map((u) => u.email),
    },
  };
}
