import { resolveTarget } from '../../config.js';
import type { RowKey } from '../../db/row-diff.js';
import { UsageError } from '../../errors.js';
import type { SyncResult } from '../../dev/sync.js';
import { confirmationMessage, syncPush } from '../../dev/sync.js';
import { planPush } from '../../dev/sync-plan.js';
import type { Config } from '../../config.js';
import { formatBytes, formatCount, shownPath } from '../../format.js';
import type { VerifyReport } from '../../dev/verify.js';
import { verifyParity } from '../../dev/verify.js';
import { restoreCommandLine } from '../../db/backup-file.js';
import { redactUrl } from '../../redact.js';
import type { Output } from '../output.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { withInterrupts } from '../interrupt.js';

const rowCount = (n: number): string => `${n} row${n === 1 ? '' : 's'}`;

/** `sync push --dry-run`: the plan, per table; nothing is changed or locked. */
async function syncPushDryRun(out: Output, config: Config, deleteNonTestData: boolean): Promise<number> {
  const result = await withInterrupts(out, (signal) => planPush(config, { signal, deleteNonTestData }, out));
  out.json({ ...result });
  out.line(`🧪 Dry run of sync push to ${result.cloud} — nothing was changed:`);
  out.line();
  for (const t of result.tables) {
    const removed =
      t.nonTestRowsRemoved > 0 ? `  ⚠️  ${rowCount(t.nonTestRowsRemoved)} of non-test users removed` : '';
    out.line(`   ${t.table}: ${t.rowsNow} → ${rowCount(t.rowsAfter)}${removed}`);
  }
  const u = result.testUsers;
  out.line();
  out.line(
    `👥 Test users: ${u.added.length} added, ${u.replaced.length} replaced, ${u.removed.length} removed`,
  );
  for (const [label, emails] of [
    ['added', u.added],
    ['replaced', u.replaced],
    ['removed', u.removed],
  ] as const)
    if (emails.length > 0) out.line(`   ${label}: ${emails.join(', ')}`);
  for (const t of result.cloudOnlyTables) out.line(`   Cloud-only table ${t} is left untouched.`);
  out.line();
  if (result.nonTestData.rows === 0) out.line('✅ No rows of non-test users would be removed.');
  else {
    const owners = result.nonTestData.users.map((x) => x.email ?? x.id).join(', ');
    out.line(
      result.wouldRefuse
        ? `⚠️  The push would refuse: ${rowCount(result.nonTestData.rows)} of non-test users (${owners}) would be removed; it needs --delete-non-test-data.`
        : `⚠️  ${rowCount(result.nonTestData.rows)} of non-test users (${owners}) would be removed, as --delete-non-test-data asks.`,
    );
  }
  out.line(
    `   To push: npm run dev:sync:push -- --yes${result.nonTestData.rows > 0 ? ' --delete-non-test-data' : ''}`,
  );
  return 0;
}

/** The spec's verify table: a line per table, then test users and history. */
export function printVerifyReport(out: Output, report: VerifyReport): void {
  out.line('🔍 Verifying environment parity (row counts + content checksums)...');
  out.line();
  for (const t of report.tables) {
    const l = t.local ? String(t.local.rows) : 'missing';
    const c = t.cloud ? String(t.cloud.rows) : 'missing';
    if (t.equal) out.line(`✅ ${t.table}: ${l} (local) = ${c} (cloud), checksums match`);
    else if (t.local && t.cloud && t.local.rows === t.cloud.rows)
      out.line(`❌ ${t.table}: ${l} (local) = ${c} (cloud) but the content differs`);
    else out.line(`❌ ${t.table}: ${l} (local) ≠ ${c} (cloud)`);
  }
  for (const m of report.matviews) {
    const state = (x: typeof m.local): string => (x ? `${x.rows} rows` : 'missing');
    out.line(
      `${m.equal ? '✅' : '❌'} ${m.table} (materialized view): ${state(m.local)} (local), ${state(m.cloud)} (cloud)${m.equal ? ', checksums match' : m.local && m.cloud ? ', content differs' : ''}`,
    );
  }
  for (const s of report.sequences.filter((x) => !x.ok)) {
    out.line(
      `❌ sequence ${s.sequence}: cloud's next value ${s.cloudNext ?? 'missing'}, local's ${s.localNext ?? 'missing'}, highest value on the cloud ${s.cloudHighest ?? 'none'}: the cloud's next insert may collide`,
    );
  }
  if (report.sequences.length > 0 && report.sequencesOk)
    out.line(`✅ Sequences: ${report.sequences.length} ahead of their rows and of local`);
  out.line();
  out.line('👥 Test users:');
  if (report.users.length === 0) out.line('   (none)');
  for (const u of report.users) {
    const where =
      u.onLocal && u.onCloud
        ? u.equal
          ? 'same id and password hash'
          : 'DIFFERENT id or password hash'
        : u.onLocal
          ? 'missing on cloud'
          : 'only on cloud';
    out.line(`${u.equal ? '✅' : '❌'} ${u.email}: ${where}`);
  }
  out.line();
  const h = report.history;
  out.line(
    h.equal
      ? `✅ Migration history: ${h.local.length} migrations on both`
      : `❌ Migration history differs: local ${h.local.length} (${h.local.at(-1) ?? '-'}), cloud ${h.cloud.length} (${h.cloud.at(-1) ?? '-'})`,
  );
}

/** With --diff: the rows named per differing table, and the queries that took. */
function printRowDiffs(out: Output, diff: NonNullable<VerifyReport['diff']>): void {
  const show = (keys: readonly RowKey[]): string =>
    keys
      .map((k) =>
        Object.entries(k)
          .map(([c, v]) => `${c}=${String(v)}`)
          .join(','),
      )
      .join('  ');
  out.line();
  out.line('🔎 Rows that differ (by primary key):');
  for (const d of diff.tables) {
    if (d.skipped) {
      out.line(`   ${d.table}: ${d.skipped}`);
      continue;
    }
    const atLeast = d.complete ? '' : 'at least ';
    for (const [kind, label] of [
      ['missing', 'only on local'],
      ['extra', 'only on the other side'],
      ['changed', 'changed'],
    ] as const) {
      const k = d[kind];
      if (k.count > 0)
        out.line(
          `   ${d.table}: ${atLeast}${k.count} ${label}: ${show(k.keys)}${k.count > k.keys.length ? ' …' : ''}`,
        );
    }
  }
  out.line(`   (${diff.queries} queries)`);
}

export async function verifyCommand(
  session: CliSession,
  opts: { target: string; diff?: boolean; limit: number },
): Promise<number> {
  const { config, out } = commandContext(session);
  const cloud = resolveTarget(config, opts.target);
  const report = await verifyParity(config, { cloud, diff: opts.diff ? { limit: opts.limit } : undefined });
  out.json({ target: cloud.label, ...report });
  printVerifyReport(out, report);
  if (report.diff) printRowDiffs(out, report.diff);
  out.line();
  out.line(
    report.equal
      ? '✅ Environments are in sync!'
      : '⚠️  Mismatches detected. Run `npm run dev:sync:push -- --force` to push local to cloud.',
  );
  return report.equal ? 0 : 1;
}

export async function syncPushCommand(
  session: CliSession,
  opts: { yes?: boolean; deleteNonTestData?: boolean; dryRun?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  if (opts.dryRun) return syncPushDryRun(out, config, opts.deleteNonTestData ?? false);
  if (!opts.yes && config.cloud) {
    const [first, ...rest] = confirmationMessage(config.cloud);
    throw new UsageError(`${first} Nothing was changed.`, { details: rest });
  }
  const result: SyncResult = await withInterrupts(out, (signal) =>
    syncPush(config, { force: true, signal, deleteNonTestData: opts.deleteNonTestData ?? false }, out),
  );
  out.json({ ...result });
  out.line();
  out.line('✅ Sync complete and committed.');
  out.line();
  printVerifyReport(out, result.verify);
  const t = result.timings;
  out.line();
  out.line('📋 Sync Summary:');
  out.line(`   Operation: local_to_cloud`);
  out.line(`   Cloud: ${redactUrl(config.cloud!.url)}`);
  out.line(
    `   Rows: ${formatCount(result.totalRows)} in ${result.tables.length} tables, ${result.testUsers} test users, ${result.sequences} sequences moved`,
  );
  out.line(
    `   Duration: ${(t.totalMs / 1000).toFixed(2)} s (preflight ${(t.preflightMs / 1000).toFixed(2)} s, backup ${(t.backupMs / 1000).toFixed(2)} s, transfer ${(t.transferMs / 1000).toFixed(2)} s, verify ${(t.verifyMs / 1000).toFixed(2)} s)`,
  );
  out.line(
    `   Backup: ${shownPath(config.projectDir, result.backupFile)} (${formatBytes(result.backupBytes)})`,
  );
  out.line(`   To roll back: ${restoreCommandLine(config, result.backupFile, config.cloud!)}`);
  out.line(
    `            or: psql -1 -v ON_ERROR_STOP=1 -f ${shownPath(config.projectDir, result.backupFile)} "${redactUrl(config.cloud!.url)}"`,
  );
  if (!result.verify.history.equal) {
    out.warn('Migration history differs between local and cloud: run `npm run migrate:deploy -- cloud`.');
    return 1;
  }
  return 0;
}
