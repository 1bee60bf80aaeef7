/**
 * `sync push --dry-run` (issue 15, item 6): what a push would do, per table, with the non-test users'
 * rows it would remove and the test users it adds, replaces and removes — while the cloud is held
 * under EXCLUSIVE locks on every table it reads and the push's advisory lock by another session. A
 * dry run that took any lock beyond a read's ACCESS SHARE would wait and fail; the same locks make a
 * real push fail, so the check can fail. The cloud's content is unchanged afterwards.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connect, LOCK_NAMESPACE, LOCKS } from '../src/db/connect.js';
import { syncPush } from '../src/dev/sync.js';
import { planPush } from '../src/dev/sync-plan.js';
import { testConfig } from './support/config.js';
import { createDatabasePair, superuserUrl } from './support/db.js';
import {
  CRM_TABLES,
  TEST_USERS,
  databaseState,
  insertCrmDataset,
  tableChecksums,
} from './support/fixtures.js';

const STALE_USER = {
  id: 'a0000000-0000-4000-8000-0000000000aa',
  email: 'stale@test.local',
  role: 'admin',
} as const;
const NEW_USER = {
  id: 'a0000000-0000-4000-8000-0000000000bb',
  email: 'new@test.local',
  role: 'account_manager',
} as const;

/** The rows the fixture gives REAL_USER (realUserSales) on the cloud: what a push would remove. */
const REAL_USER_ROWS = {
  sales: 1,
  organizations: 1,
  contacts: 2,
  contactNotes: 2,
  opportunities: 2,
  deals: 1,
  dealNotes: 1,
  activities: 2,
  tasks: 2,
};

/**
 * Another session holding every public table and auth.users/identities of the cloud in EXCLUSIVE mode
 * (only ACCESS SHARE is compatible with it). `end()` releases them.
 */
async function holdCloudTables(cloud: string): Promise<pg.Client> {
  const c = await connect(superuserUrl(cloud));
  const tables = CRM_TABLES.map((t) => `public."${t}"`).join(', ');
  await c.query(`begin; lock table ${tables}, auth.users, auth.identities in exclusive mode`);
  return c;
}

describe('sync push --dry-run', () => {
  it('reports rows now → after, the non-test rows it would remove and the test users; takes no lock beyond reads; changes nothing', async () => {
    const { local, cloud } = await createDatabasePair('crm');
    await Promise.all([
      insertCrmDataset(local, { tag: 'local', testUsers: [...TEST_USERS, NEW_USER] }),
      insertCrmDataset(cloud, { tag: 'cloud', testUsers: [...TEST_USERS, STALE_USER], realUserSales: true }),
    ]);
    const config = testConfig({ local, cloud });
    const before = await databaseState(cloud);
    const [localSums, cloudSums] = await Promise.all([tableChecksums(local), tableChecksums(cloud)]);

    const holder = await holdCloudTables(cloud);
    try {
      // The held locks stop a real push (its table locks wait, then time out): the dry run passing
      // under them below is not for want of a conflict.
      await expect(
        syncPush(config, { force: true, deleteNonTestData: true, lockTimeout: '50ms' }),
      ).rejects.toMatchObject({
        code: '55P03',
      });
      // And the push's advisory lock is held too: a dry run does not take it.
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.sync]);
      const result = await planPush(config);

      expect(result.tables.map((t) => t.table)).toEqual(
        expect.arrayContaining([...CRM_TABLES, 'auth.users', 'auth.identities']),
      );
      for (const t of result.tables.filter((x) => !x.table.startsWith('auth.'))) {
        expect(t, t.table).toEqual({
          table: t.table,
          rowsNow: cloudSums[t.table]!.rows,
          rowsAfter: localSums[t.table]!.rows,
          nonTestRowsRemoved: REAL_USER_ROWS[t.table as keyof typeof REAL_USER_ROWS] ?? 0,
        });
      }
      // Cloud: 4 test users + the real one; after: local's 4 test users + the real one.
      const auth = Object.fromEntries(
        result.tables.filter((t) => t.table.startsWith('auth.')).map((t) => [t.table, t]),
      );
      expect(auth['auth.users']).toMatchObject({ rowsNow: 5, rowsAfter: 5 });
      expect(auth['auth.identities']).toMatchObject({ rowsNow: 5, rowsAfter: 5 });
      expect(result.testUsers).toEqual({
        added: ['new@test.local'],
        replaced: ['admin@test.local', 'director@test.local', 'manager@test.local'],
        removed: ['stale@test.local'],
      });
      expect(result.nonTestData.users.map((u) => u.email)).toEqual(['real@example.com']);
      expect(result.nonTestData.rows).toBe(Object.values(REAL_USER_ROWS).reduce((a, b) => a + b, 0));
      expect(result.wouldRefuse).toBe(true);
      expect((await planPush(config, { deleteNonTestData: true })).wouldRefuse).toBe(false);
    } finally {
      await holder.end();
    }
    expect(await databaseState(cloud)).toEqual(before);
  });
});
