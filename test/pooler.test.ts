/**
 * Poolers and networks, with a real pgbouncer: the session pooler works for everything crm-env does
 * (session advisory locks, COPY, pg_dump); a transaction pooler is refused before any change even on a
 * port other than Supabase's 6543; a host with only IPv6 addresses the network cannot reach is named.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assertOwnSession, onlyIPv6, withClient } from '../src/db/connect.js';
import { ConfigError } from '../src/errors.js';
import { runCliAsync, tempProject } from './support/cli.js';
import { createDatabasePair } from './support/db.js';
import { databaseState, insertCrmDataset, tableChecksums } from './support/fixtures.js';
import type { Pgbouncer } from './support/pgbouncer.js';
import { startPgbouncer } from './support/pgbouncer.js';

/** The same database as `url`, through the pooler on `port`. */
const via = (url: string, port: number): string => url.replace(/:\d+\//, `:${port}/`);

describe('poolers', () => {
  let session: Pgbouncer;
  let transaction: Pgbouncer;
  beforeAll(async () => {
    const cloud = inject('pgServers').cloud;
    [session, transaction] = await Promise.all([
      startPgbouncer({ serverPort: cloud.port, password: cloud.password, mode: 'session' }),
      startPgbouncer({ serverPort: cloud.port, password: cloud.password, mode: 'transaction' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([session?.stop(), transaction?.stop()]);
  });

  /** A pair with different data on each side, the cloud reached through `pooler`. */
  async function pair(
    pooler: Pgbouncer,
  ): Promise<{ local: string; cloud: string; env: Record<string, string> }> {
    const { local, cloud } = await createDatabasePair('crm');
    await Promise.all([
      insertCrmDataset(local, { tag: 'local', segments: 3 }),
      insertCrmDataset(cloud, { tag: 'cloud', segments: 2 }),
    ]);
    const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: via(cloud, pooler.port) };
    return { local, cloud, env };
  }

  it('detects transaction pooling by behaviour, and only there', async () => {
    const { cloud } = await createDatabasePair('empty');
    const check = (port: number): Promise<unknown> =>
      withClient(via(cloud, port), (c) => assertOwnSession(c), { label: 'cloud' }).catch((e: unknown) => e);
    expect(await check(transaction.port)).toBeInstanceOf(ConfigError);
    expect(await check(session.port)).toBeUndefined();
    expect(await check(Number(new URL(cloud).port))).toBeUndefined();
  });

  it('session pooler: sync push (locks, COPY) and migrate backup (pg_dump) work through it', async () => {
    const { local, cloud, env } = await pair(session);
    const dir = tempProject();
    const push = await runCliAsync(['sync', 'push', '--force', '--json'], { cwd: dir, env });
    expect(push.code).toBe(0);
    expect(await tableChecksums(cloud)).toEqual(await tableChecksums(local));
    const backup = await runCliAsync(['migrate', 'backup', 'cloud', '--json'], { cwd: dir, env });
    expect(backup.code).toBe(0);
    expect((JSON.parse(backup.stdout) as { bytes: number }).bytes).toBeGreaterThan(0);
  });

  it('transaction pooler on another port: push and backup exit 2, the cloud unchanged', async () => {
    const { cloud, env } = await pair(transaction);
    const before = await databaseState(cloud);
    const dir = tempProject();
    const push = await runCliAsync(['sync', 'push', '--force'], { cwd: dir, env });
    const backup = await runCliAsync(['migrate', 'backup', 'cloud'], { cwd: dir, env });
    expect([push.code, backup.code]).toEqual([2, 2]);
    expect(await databaseState(cloud)).toEqual(before);
  });

  it('an IPv6-only host the network cannot reach: exit 2 (named, with the session pooler)', async () => {
    // 2001:db8::/32 is reserved for documentation: never routed.
    expect(await onlyIPv6('2001:db8::1')).toBe(true);
    expect(await onlyIPv6('127.0.0.1')).toBe(false);
    const dir = tempProject();
    const r = await runCliAsync(['migrate', 'backup', 'cloud'], {
      cwd: dir,
      env: {
        DATABASE_URL_PRODUCTION: 'postgresql://postgres:pw@[2001:db8::1]:5432/postgres?connect_timeout=5',
      },
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
