/**
 * A push that fails must leave the cloud exactly as it was: every public table's checksum, auth.users
 * and auth.identities, and the sequence counters (setval is not transactional). Each fault is real —
 * a backend killed by the server, drift in the cloud schema, a row the cloud rejects, Ctrl-C, a second
 * push, a copy that does not match — and every one must surface as exit code 1.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
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
import { tracked, waitFor } from './support/wait.js';

/**
 * Rows of bulk activities on the big local database, each with a 4 000-character body: over 100 MB of
 * COPY text, far more than the sockets between the servers and this process can buffer, so a local
 * COPY TO stays in the middle of its stream while the cloud side is parked. (Compressible: small on disk.)
 */
const BULK_ROWS = 30_000;
const BULK_BODY_CHARS = 4_000;

/** Advisory lock the parking trigger waits for (key pair outside crm-env's own namespace). */
const PARK: readonly [number, number] = [0x54455354, 1];

type State = Awaited<ReturnType<typeof databaseState>>;

/** A cloud database with its own, different data; returns its URL and its state before the push. */
async function freshCloud(): Promise<{ cloud: string; before: State }> {
  const cloud = await createTestDatabase({ server: 'cloud' });
  await insertCrmDataset(cloud, { tag: 'cloud', segments: 2 });
  return { cloud, before: await databaseState(cloud) };
}

/**
 * A cloud whose COPY into activities stops at the 100th bulk row (a row trigger waits for the {@link
 * PARK} lock) for as long as the returned session holds that lock; `release()` lets it go on.
 */
async function parkedCloud(): Promise<{ cloud: string; before: State; release: () => Promise<void> }> {
  const { cloud } = await freshCloud();
  await exec(
    cloud,
    // Its own lock_timeout of 0: the push's lock_timeout must not end the wait, only release() does.
    `create function public.zz_park() returns trigger language plpgsql set lock_timeout = 0 as $$
     begin
       if new.subject = 'bulk 100' then perform pg_advisory_xact_lock_shared(${PARK[0]}, ${PARK[1]}); end if;
       return new;
     end $$`,
  );
  await exec(
    cloud,
    `create trigger zz_park before insert on public.activities for each row execute function public.zz_park()`,
  );
  const holder = await connect(superuserUrl(cloud));
  await holder.query('select pg_advisory_lock($1, $2)', [...PARK]);
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await holder.end();
  };
  return { cloud, before: await databaseState(cloud), release };
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

const dbName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

/** Pids of crm-env sessions on the database of `url` for which `where` (SQL on pg_stat_activity a) holds. */
async function crmEnvBackends(url: string, where = 'true', values: unknown[] = []): Promise<number[]> {
  return asSuperuser(url, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      `select a.pid from pg_stat_activity a
        where a.datname = $1 and a.application_name = 'crm-env' and a.pid <> pg_backend_pid() and (${where})`,
      [dbName(url), ...values],
    );
    return rows.map((r) => r.pid);
  });
}

/** Waits until a crm-env session on the cloud waits for the {@link PARK} lock: the COPY is parked. */
function waitForParkedCopy(cloud: string, push: { settled: () => boolean }): Promise<number> {
  return waitFor(
    'the COPY into activities parked',
    async () =>
      (
        await crmEnvBackends(
          cloud,
          `exists (select 1 from pg_locks l where l.pid = a.pid and l.locktype = 'advisory' and not l.granted
                     and l.classid = $2::int::oid and l.objid = $3::int::oid)`,
          [...PARK],
        )
      )[0],
    push.settled,
  );
}

/** Waits until a crm-env session waits (not granted) for a lock on `table` (e.g. held by {@link holdLock}). */
function waitForLockWait(url: string, table: string, push: { settled: () => boolean }): Promise<number> {
  return waitFor(
    `a crm-env session waiting for a lock on ${table}`,
    async () =>
      (
        await crmEnvBackends(
          url,
          `exists (select 1 from pg_locks l where l.pid = a.pid and l.locktype = 'relation' and not l.granted
                     and l.relation = $2::regclass)`,
          [table],
        )
      )[0],
    push.settled,
  );
}

/** Waits until no crm-env session is left on the database: the server has rolled back and let go. */
async function waitForNoBackends(url: string): Promise<void> {
  await waitFor('every crm-env session gone', async () =>
    (await crmEnvBackends(url)).length === 0 ? true : undefined,
  );
}

/** A superuser session holding ACCESS EXCLUSIVE on `table` in an open transaction; end() releases it. */
async function holdLock(url: string, table: string): Promise<pg.Client> {
  const c = await connect(superuserUrl(url));
  await c.query('begin');
  await c.query(`lock table ${table} in access exclusive mode`);
  return c;
}

/** Starts a push and tracks whether it has settled. */
function startPush(config: Config, signal?: AbortSignal): ReturnType<typeof tracked<unknown>> {
  return tracked<unknown>(syncPush(config, { force: true, ...(signal ? { signal } : {}) }));
}

describe('sync push faults roll the cloud back completely', () => {
  // One big local database, only read by the pushes below.
  let bigLocal: string;
  beforeAll(async () => {
    bigLocal = await createTestDatabase({ server: 'local' });
    await insertCrmDataset(bigLocal, { tag: 'local', segments: 3 });
    await addBulkActivities(bigLocal, BULK_ROWS, undefined, BULK_BODY_CHARS);
  });

  it('(a) the cloud backend killed mid-COPY → exit 1, nothing changed', async () => {
    const { cloud, before, release } = await parkedCloud();
    const config = testConfig({ local: bigLocal, cloud });
    let err: CrmEnvError;
    try {
      const push = startPush(config);
      const pid = await waitForParkedCopy(cloud, push);
      await asSuperuser(cloud, (c) => c.query('select pg_terminate_backend($1)', [pid]));
      err = await pushError(push.promise);
    } finally {
      await release();
    }
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    await waitForNoBackends(cloud);
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
      const pid = await waitForLockWait(cloud, 'auth.identities', push);
      await asSuperuser(cloud, (c) => c.query('select pg_terminate_backend($1)', [pid]));

      const err = await pushError(push.promise);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
    } finally {
      await blocker.end();
    }
    await waitForNoBackends(cloud);
    expect(await databaseState(cloud)).toEqual(before);
    expect(backups(config)).toEqual([]);
  });

  it('(a) the LOCAL backend killed mid-COPY → exit 1, the cloud rolls back', async () => {
    const { cloud, before, release } = await parkedCloud();
    const config = testConfig({ local: bigLocal, cloud });
    try {
      const push = startPush(config);
      await waitForParkedCopy(cloud, push);
      // The local COPY TO is stuck mid-stream: the cloud stopped reading and every buffer is full.
      const pid = await waitFor(
        'the local COPY TO blocked writing',
        async () =>
          (
            await crmEnvBackends(
              bigLocal,
              `a.state = 'active' and a.wait_event = 'ClientWrite' and a.query ilike 'copy "public"."activities"%to stdout'`,
            )
          )[0],
        push.settled,
      );
      await asSuperuser(bigLocal, (c) => c.query('select pg_terminate_backend($1)', [pid]));
      // The cloud backend must run on to see the push's cancellation of its COPY.
      await release();

      const err = await pushError(push.promise);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
    } finally {
      await release();
    }
    await waitForNoBackends(cloud);
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
    // One detail line, naming the table and the column.
    expect(err.details).toEqual([expect.stringMatching(/^tasks: .*\bpriority\b/)]);
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
    // The error names the table and the constraint.
    expect(err.message).toContain('contacts');
    expect(err.message).toContain('no_x');
    expect(await databaseState(cloud)).toEqual(before);
    expect(backups(config)).toHaveLength(1);
  });

  it('(d) aborted through the signal mid-COPY (Ctrl-C) → exit 1 without waiting for the server, nothing changed', async () => {
    const { cloud, before, release } = await parkedCloud();
    const config = testConfig({ local: bigLocal, cloud });
    let err: CrmEnvError;
    try {
      const controller = new AbortController();
      const push = startPush(config, controller.signal);
      await waitForParkedCopy(cloud, push);
      controller.abort();
      // Settles while the cloud backend is still parked: the push does not wait for the server.
      err = await pushError(push.promise);
      expect((await crmEnvBackends(cloud)).length).toBeGreaterThan(0);
    } finally {
      await release();
    }
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    // The server sees the closed connection and rolls back.
    await waitForNoBackends(cloud);
    expect(await databaseState(cloud)).toEqual(before);
  });

  it('(e) a push while another holds the cloud lock fails at once, nothing changed; once released it goes through', async () => {
    const [local, { cloud, before }] = await Promise.all([smallLocal(), freshCloud()]);
    const config = testConfig({ local, cloud });
    expect([LOCK_NAMESPACE, LOCKS.sync]).toEqual([1129467205, 1]);
    const holder = await connect(cloud);
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.sync]);
      // lock_timeout far beyond the test's timeout: a push that queued for the lock would never return.
      const err = await pushError(syncPush(config, { force: true, lockTimeout: '1h' }));
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
      expect(await databaseState(cloud)).toEqual(before);
      expect(existsSync(config.backupDir)).toBe(false);
    } finally {
      await holder.end();
    }
    // The lock was the only obstacle.
    await syncPush(config, { force: true });
    expect((await verifyParity(config)).equal).toBe(true);
  });

  it('(e) two concurrent pushes: the second fails at once while the first holds the cloud, then the first commits', async () => {
    const [local, { cloud }] = await Promise.all([smallLocal(), freshCloud()]);
    const firstConfig = testConfig({ local, cloud });
    const secondConfig = testConfig({ local, cloud });
    // Park the first push inside its transaction (in the backup), holding the cloud lock.
    const blocker = await holdLock(cloud, 'auth.identities');
    let first: ReturnType<typeof startPush>;
    try {
      first = startPush(firstConfig);
      await waitForLockWait(cloud, 'auth.identities', first);

      const err = await pushError(syncPush(secondConfig, { force: true, lockTimeout: '1h' }));
      expect(err).toBeInstanceOf(OperationError);
      expect(err.exitCode).toBe(1);
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
