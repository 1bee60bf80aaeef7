/**
 * A push that fails must leave the cloud exactly as it was: every public table's checksum, auth.users
 * and auth.identities, and the sequence counters (setval is not transactional). Each fault is real —
 * a backend killed by the server, drift in the cloud schema, a row the cloud rejects, Ctrl-C, a second
 * push, a copy that does not match — and every one must surface as exit code 1.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { syncPush } from '../src/dev/sync.js';
import { verifyParity } from '../src/dev/verify.js';
import { LOCKS, LOCK_NAMESPACE, connect } from '../src/db/connect.js';
import { CrmEnvError, MismatchError, OperationError } from '../src/errors.js';
import { testConfig } from './support/config.js';
import { createTestDatabase, superuserUrl } from './support/db.js';
import { addBulkActivities, asSuperuser, databaseState, exec, insertCrmDataset } from './support/fixtures.js';

/** Enough activities that copying them takes a while (the cloud checks four foreign keys per row). */
const BULK_ROWS = 100_000;

type State = Awaited<ReturnType<typeof databaseState>>;

/** A cloud database with its own, different data; returns its URL and its state before the push. */
async function freshCloud(): Promise<{ cloud: string; before: State }> {
  const cloud = await createTestDatabase({ server: 'cloud' });
  await insertCrmDataset(cloud, { tag: 'cloud', segments: 2 });
  return { cloud, before: await databaseState(cloud) };
}

async function smallLocal(): Promise<string> {
  const local = await createTestDatabase({ server: 'local' });
  await insertCrmDataset(local, { tag: 'local', segments: 3 });
  return local;
}

/** The push's error, or a failure when it resolved. */
async function pushError(push: Promise<unknown>): Promise<CrmEnvError> {
  const outcome = await push.then(
    () => new Error('the push succeeded but was expected to fail'),
    (e: unknown) => e,
  );
  if (!(outcome instanceof CrmEnvError)) throw outcome;
  return outcome;
}

function backups(config: Config): string[] {
  const dir = path.join(config.backupDir, 'sync');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/**
 * Waits until a crm-env backend on the database of `url` is running a statement matching `pattern`
 * (ILIKE) and returns its pid. Gives up when `done()` says the push already finished.
 */
async function waitForBackend(url: string, pattern: string, done: () => boolean): Promise<number> {
  return asSuperuser(url, async (c) => {
    const db = decodeURIComponent(new URL(url).pathname.slice(1));
    const deadline = Date.now() + 30_000;
    while (!done() && Date.now() < deadline) {
      const { rows } = await c.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = $1 and application_name = 'crm-env' and state = 'active' and query ilike $2`,
        [db, pattern],
      );
      if (rows[0]) return rows[0].pid;
      await sleep(5);
    }
    throw new Error(`never saw a crm-env backend running ${pattern}`);
  });
}

/** The pid of the crm-env backend streaming COPY … FROM STDIN into `table` on the cloud. */
function waitForCopy(cloud: string, table: string, done: () => boolean): Promise<number> {
  return waitForBackend(cloud, `copy "public"."${table}" %from stdin`, done);
}

/** A superuser session holding ACCESS EXCLUSIVE on `table` in an open transaction; end() releases it. */
async function holdLock(url: string, table: string): Promise<pg.Client> {
  const c = await connect(superuserUrl(url));
  await c.query('begin');
  await c.query(`lock table ${table} in access exclusive mode`);
  return c;
}

/** Starts a push and tracks whether it has settled. */
function startPush(
  config: Config,
  signal?: AbortSignal,
): { promise: Promise<unknown>; settled: () => boolean } {
  let settled = false;
  const promise = syncPush(config, { force: true, ...(signal ? { signal } : {}) }).finally(() => {
    settled = true;
  });
  promise.catch(() => undefined);
  return { promise, settled: () => settled };
}

describe('sync push faults roll the cloud back completely', () => {
  // One big local database, only read by the pushes below.
  let bigLocal: string;
  beforeAll(async () => {
    bigLocal = await createTestDatabase({ server: 'local' });
    await insertCrmDataset(bigLocal, { tag: 'local', segments: 3 });
    await addBulkActivities(bigLocal, BULK_ROWS);
  });

  it('(a) the cloud backend killed mid-COPY → exit 1, nothing changed', async () => {
    const { cloud, before } = await freshCloud();
    const config = testConfig({ local: bigLocal, cloud });
    const push = startPush(config);
    const pid = await waitForCopy(cloud, 'activities', push.settled);
    await asSuperuser(cloud, (c) => c.query('select pg_terminate_backend($1)', [pid]));

    const err = await pushError(push.promise);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/terminating connection/);
    expect(err.message).toMatch(/rolled back/);
    expect(await databaseState(cloud)).toEqual(before);
    // The backup was written before anything was emptied, and the error names it.
    expect(backups(config)).toEqual([expect.stringMatching(/^cloud_sync_backup_\d{8}_\d{6}\.sql$/)]);
    expect(err.details.join('\n')).toContain(`backups/sync/${backups(config)[0]}`);
  });

  it('(a) the cloud backend killed while the backup is written → exit 1, nothing changed, no partial backup left', async () => {
    const [local, { cloud, before }] = await Promise.all([smallLocal(), freshCloud()]);
    const config = testConfig({ local, cloud });
    // The backup reads auth.users, then auth.identities: hold the second so the push stops half-way.
    const blocker = await holdLock(cloud, 'auth.identities');
    try {
      const push = startPush(config);
      const pid = await waitForBackend(
        cloud,
        `copy (select % from only "auth"."identities" %to stdout`,
        push.settled,
      );
      await asSuperuser(cloud, (c) => c.query('select pg_terminate_backend($1)', [pid]));

      const err = await pushError(push.promise);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
      expect(err.message).toMatch(/terminating connection/);
    } finally {
      await blocker.end();
    }
    expect(await databaseState(cloud)).toEqual(before);
    expect(backups(config)).toEqual([]);
  });

  it('(a) the LOCAL backend killed mid-COPY → exit 1, the cloud rolls back', async () => {
    const { cloud, before } = await freshCloud();
    const config = testConfig({ local: bigLocal, cloud });
    const push = startPush(config);
    await waitForCopy(cloud, 'activities', push.settled);
    const pid = await waitForBackend(bigLocal, `copy "public"."activities" %to stdout`, push.settled);
    await asSuperuser(bigLocal, (c) => c.query('select pg_terminate_backend($1)', [pid]));

    const err = await pushError(push.promise);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(await databaseState(cloud)).toEqual(before);
  });

  it('(b) a column type that differs on the cloud → preflight error naming the table, no backup, nothing changed', async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    await exec(cloud, `alter table public.tasks alter column priority type varchar(10)`);
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/schema differs/);
    expect(err.details).toEqual([
      expect.stringMatching(
        /^tasks: column priority is text locally but character varying\(10\) on the cloud$/,
      ),
    ]);
    expect(await databaseState(cloud)).toEqual(before);
    // Preflight runs before the transaction: no backup is written.
    expect(existsSync(config.backupDir)).toBe(false);
  });

  it('(c) a row the cloud rejects (CHECK constraint) → exit 1 naming the table, nothing changed', async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    await exec(cloud, `alter table public.contacts add constraint no_x check (first_name <> 'Rejected')`);
    await exec(
      local,
      `update public.contacts set first_name = 'Rejected' where id = (select min(id::text)::uuid from public.contacts)`,
    );
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/at table contacts/);
    expect(err.message).toMatch(/no_x/);
    expect(await databaseState(cloud)).toEqual(before);
    expect(backups(config)).toHaveLength(1);
  });

  it('(d) aborted through the signal mid-COPY (Ctrl-C) → exit 1, nothing changed', async () => {
    const { cloud, before } = await freshCloud();
    const config = testConfig({ local: bigLocal, cloud });
    const controller = new AbortController();
    const push = startPush(config, controller.signal);
    await waitForCopy(cloud, 'activities', push.settled);
    const t = Date.now();
    controller.abort();

    const err = await pushError(push.promise);
    expect(Date.now() - t).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/rolled back/);
    expect(await databaseState(cloud)).toEqual(before);
  });

  it('(e) a push while another holds the cloud lock fails fast with "Another crm-env push", nothing changed', async () => {
    const [local, { cloud, before }] = await Promise.all([smallLocal(), freshCloud()]);
    const config = testConfig({ local, cloud });
    const holder = await connect(cloud);
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.sync]);
      expect([LOCK_NAMESPACE, LOCKS.sync]).toEqual([1129467205, 1]);
      const t = Date.now();
      const err = await pushError(syncPush(config, { force: true, lockTimeout: '30s' }));
      expect(Date.now() - t).toBeLessThan(5_000);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
      expect(err.message).toMatch(/Another crm-env push/);
    } finally {
      await holder.end();
    }
    expect(await databaseState(cloud)).toEqual(before);
    expect(existsSync(config.backupDir)).toBe(false);
  });

  it('(e) two concurrent pushes: the second fails fast while the first holds the cloud, then the first commits', async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    const firstConfig = testConfig({ local, cloud });
    const secondConfig = testConfig({ local, cloud });
    // Park the first push inside its transaction (in the backup), holding the cloud lock.
    const blocker = await holdLock(cloud, 'auth.identities');
    let first: ReturnType<typeof startPush>;
    try {
      first = startPush(firstConfig);
      await waitForBackend(cloud, `copy (select % from only "auth"."identities" %to stdout`, first.settled);

      const t = Date.now();
      const err = await pushError(syncPush(secondConfig, { force: true }));
      expect(Date.now() - t).toBeLessThan(5_000);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
      expect(err.message).toMatch(/Another crm-env push/);
      expect(first.settled()).toBe(false);
      expect(existsSync(secondConfig.backupDir)).toBe(false);
    } finally {
      await blocker.end();
    }
    await first.promise;
    expect(backups(firstConfig)).toHaveLength(1);
    expect((await verifyParity(firstConfig)).equal).toBe(true);
  });

  it("(g) a cloud user who is not a test user but has a local test user's id → refused, the user untouched", async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    // The cloud's manager account was turned into a real person's account (email changed).
    await exec(
      cloud,
      `update auth.users set email = 'jane@company.example' where email = 'manager@test.local'`,
    );
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/jane@company\.example/);
    expect(await databaseState(cloud)).toEqual(before);
    expect(existsSync(config.backupDir)).toBe(false);
  });

  it('(g) local data owned by a real user the cloud does not have → refused before anything is touched', async () => {
    const local = await createTestDatabase({ server: 'local' });
    await insertCrmDataset(local, { tag: 'local', realUserSales: true });
    const cloud = await createTestDatabase({ server: 'cloud' });
    await insertCrmDataset(cloud, { tag: 'cloud', realUser: false });
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/real@example\.com/);
    expect(await databaseState(cloud)).toEqual(before);
    expect(existsSync(config.backupDir)).toBe(false);
  });

  it('(f) a copy that does not match local (a cloud trigger rewrites rows) → checksum mismatch, exit 1, nothing changed, sequences included', async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    await exec(
      cloud,
      `create function public.zz_rewrite() returns trigger language plpgsql as $$
       begin new.title := new.title || ' (cloud)'; return new; end $$`,
    );
    await exec(
      cloud,
      `create trigger zz_rewrite before insert on public.tasks for each row execute function public.zz_rewrite()`,
    );
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(MismatchError);
    expect(err.exitCode).toBe(1);
    expect(err.details.join('\n')).toMatch(/^tasks:/m);
    const after = await databaseState(cloud);
    expect(after.sequences).toEqual(before.sequences);
    expect(after).toEqual(before);
  });
});
