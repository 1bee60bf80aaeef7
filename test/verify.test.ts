/**
 * `verify` (verifyParity): equal right after a push, and each kind of difference found on its own —
 * one changed value with equal row counts, values swapped between rows, a missing migration history
 * row, a changed password hash. Then the built CLI end to end: `verify --json` exit codes and
 * `sync push` without --force (exit 2, no password in the output).
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { syncPush } from '../src/dev/sync.js';
import type { VerifyReport } from '../src/dev/verify.js';
import { verifyParity } from '../src/dev/verify.js';
import { runCli, tempProject } from './support/cli.js';
import { testConfig } from './support/config.js';
import { createDatabasePair } from './support/db.js';
import { CRM_TABLES, TEST_USERS, databaseState, exec, insertCrmDataset } from './support/fixtures.js';

interface Pushed {
  local: string;
  cloud: string;
  config: Config;
  dataset: Awaited<ReturnType<typeof insertCrmDataset>>;
}

/** A local and a cloud with different data, then one successful push. */
async function pushedPair(): Promise<Pushed> {
  const { local, cloud } = await createDatabasePair('crm');
  const [dataset] = await Promise.all([
    insertCrmDataset(local, { tag: 'local' }),
    insertCrmDataset(cloud, { tag: 'cloud' }),
  ]);
  const config = testConfig({ local, cloud });
  await syncPush(config, { force: true });
  return { local, cloud, config, dataset };
}

function table(report: VerifyReport, name: string): VerifyReport['tables'][number] {
  const t = report.tables.find((x) => x.table === name);
  if (!t) throw new Error(`no table ${name} in the report`);
  return t;
}

/** Every table but `except` compares equal. */
function othersEqual(report: VerifyReport, except: string[] = []): void {
  for (const t of report.tables) if (!except.includes(t.table)) expect(t.equal, t.table).toBe(true);
}

describe('verifyParity', () => {
  it('reports differences before a push and full equality after it', async () => {
    const { local, cloud } = await createDatabasePair('crm');
    await Promise.all([insertCrmDataset(local, { tag: 'local' }), insertCrmDataset(cloud, { tag: 'cloud' })]);
    const config = testConfig({ local, cloud });

    const before = await verifyParity(config);
    expect(before.equal).toBe(false);
    expect(before.tablesEqual).toBe(false);
    expect(before.usersEqual).toBe(false); // same ids, other password hashes
    expect(before.history.equal).toBe(true);

    await syncPush(config, { force: true });
    const report = await verifyParity(config);
    expect(report.equal).toBe(true);
    expect(report.tablesEqual).toBe(true);
    expect(report.tables.map((t) => t.table).sort()).toEqual([...CRM_TABLES].sort());
    for (const t of report.tables) {
      expect(t.equal, t.table).toBe(true);
      expect(t.cloud).toEqual(t.local);
    }
    expect(report.users.map((u) => [u.email, u.equal])).toEqual(
      TEST_USERS.map((u) => [u.email, true]).sort(),
    );
    expect(report.history.equal).toBe(true);
    expect(report.history.local).toHaveLength(3);
    expect(report.totalRows.cloud).toBe(report.totalRows.local);
    expect(report.totalRows.local).toBeGreaterThan(0);
  });

  it('finds one changed value on the cloud even though the row counts are equal', async () => {
    const { cloud, config, dataset } = await pushedPair();
    await exec(cloud, `update public.contacts set title = 'Changed on cloud' where id = $1`, [
      dataset.contactIds[0],
    ]);

    const report = await verifyParity(config);
    const contacts = table(report, 'contacts');
    expect(contacts.equal).toBe(false);
    expect(contacts.local!.rows).toBe(contacts.cloud!.rows);
    expect(contacts.local!.checksum).not.toBe(contacts.cloud!.checksum);
    othersEqual(report, ['contacts']);
    expect(report.tablesEqual).toBe(false);
    expect(report.equal).toBe(false);
    expect(report.usersEqual).toBe(true);
  });

  it('finds values swapped between two rows (every column keeps the same set of values)', async () => {
    const { cloud, config } = await pushedPair();
    // test_user_metadata has no updated_at trigger: only the two role values trade places.
    await exec(
      cloud,
      `update public.test_user_metadata set role = case role when 'admin' then 'account_manager' else 'admin' end
        where role in ('admin', 'account_manager')`,
    );
    const report = await verifyParity(config);
    const t = table(report, 'test_user_metadata');
    expect(t.equal).toBe(false);
    expect(t.cloud!.rows).toBe(t.local!.rows);
    othersEqual(report, ['test_user_metadata']);
  });

  it('reports a differing migration history', async () => {
    const { cloud, config } = await pushedPair();
    await exec(
      cloud,
      `delete from supabase_migrations.schema_migrations where version = (select max(version) from supabase_migrations.schema_migrations)`,
    );

    const report = await verifyParity(config);
    expect(report.history.equal).toBe(false);
    expect(report.history.cloud).toEqual(report.history.local.slice(0, -1));
    expect(report.tablesEqual).toBe(true);
    expect(report.usersEqual).toBe(true);
    expect(report.equal).toBe(false);
  });

  it('reports a test user whose password hash changed on the cloud, and only that user', async () => {
    const { cloud, config } = await pushedPair();
    await exec(cloud, `update auth.users set encrypted_password = $1 where email = 'director@test.local'`, [
      '$2a$10$changedonthecloud',
    ]);

    const report = await verifyParity(config);
    expect(report.users).toEqual([
      { email: 'admin@test.local', onLocal: true, onCloud: true, equal: true },
      { email: 'director@test.local', onLocal: true, onCloud: true, equal: false },
      { email: 'manager@test.local', onLocal: true, onCloud: true, equal: true },
    ]);
    expect(report.usersEqual).toBe(false);
    expect(report.tablesEqual).toBe(true);
    expect(report.equal).toBe(false);
  });
});

describe('the built CLI', () => {
  it('verify --json exits 0 when equal and 1 after a cloud change; sync push without --force exits 2 without printing a password', async () => {
    const { local, cloud } = await pushedPair();
    const cwd = tempProject();
    const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const passwords = [new URL(local).password, new URL(cloud).password].map(decodeURIComponent);
    expect(passwords.every((p) => p.length >= 8)).toBe(true);

    const ok = runCli(['verify', '--json'], { cwd, env });
    expect(ok.code, ok.stderr).toBe(0);
    const okReport = JSON.parse(ok.stdout) as VerifyReport;
    expect(okReport.equal).toBe(true);
    expect(okReport.tables).toHaveLength(CRM_TABLES.length);

    await exec(
      cloud,
      `delete from public."dealNotes" where id = (select id from public."dealNotes" limit 1)`,
    );
    const bad = runCli(['verify', '--json'], { cwd, env });
    expect(bad.code, bad.stderr).toBe(1);
    const badReport = JSON.parse(bad.stdout) as VerifyReport;
    expect(badReport.equal).toBe(false);
    expect(badReport.tables.find((t) => t.table === 'dealNotes')?.equal).toBe(false);

    const before = await databaseState(cloud);
    const push = runCli(['sync', 'push'], { cwd, env });
    expect(push.code).toBe(2);
    for (const p of passwords) expect(push.stdout + push.stderr).not.toContain(p);
    expect(await databaseState(cloud)).toEqual(before);

    // What it asks for (`npm run dev:sync:push -- --force`) does the push, and the two agree again.
    const forced = runCli(['sync', 'push', '--force'], { cwd, env });
    expect(forced.code, forced.stderr).toBe(0);
    for (const p of passwords) expect(forced.stdout + forced.stderr).not.toContain(p);
    expect(runCli(['verify', '--json'], { cwd, env }).code).toBe(0);
  });
});
