/**
 * Issue 14: a typical push (the default test users and their data) makes at most 25 round trips to the
 * cloud. Counted, not timed: the cloud is reached through the bench's own counting TCP proxy
 * (scripts/bench/proxy.mjs, no delay), which counts a round trip each time the server answers after
 * the client spoke — every authentication step, query and COPY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DelayProxy } from '../scripts/bench/proxy.mjs';
import { startDelayProxy } from '../scripts/bench/proxy.mjs';
import { createTestUsers } from '../src/dev/test-users.js';
import { syncPush } from '../src/dev/sync.js';
import { verifyParity } from '../src/dev/verify.js';
import { testConfig } from './support/config.js';
import { createDatabasePair } from './support/db.js';

const MAX_ROUND_TRIPS = 25;

describe('sync push round trips (issue 14)', () => {
  let proxy: DelayProxy;
  let pair: { local: string; cloud: string };

  beforeAll(async () => {
    pair = await createDatabasePair('crm');
    proxy = await startDelayProxy({ targetPort: Number(new URL(pair.cloud).port), delayMs: 0 });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it(`a typical push talks to the cloud in at most ${MAX_ROUND_TRIPS} round trips`, async () => {
    const viaProxy = new URL(pair.cloud);
    viaProxy.port = String(proxy.port);
    const config = testConfig({ local: pair.local, cloud: viaProxy.toString() });
    await createTestUsers(config, config.local);

    proxy.reset();
    const result = await syncPush(config, { force: true });
    const { roundTrips, connections } = proxy.stats();

    expect(result.totalRows).toBeGreaterThan(1000);
    expect(connections).toBeGreaterThan(0);
    expect(roundTrips).toBeLessThanOrEqual(MAX_ROUND_TRIPS);
    // Counted on a push that did its whole job.
    const direct = testConfig({ local: pair.local, cloud: pair.cloud });
    expect((await verifyParity(direct)).equal).toBe(true);
  });
});
