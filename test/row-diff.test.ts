/**
 * `verify --diff`: the differing rows named by primary key, found by the servers hashing key ranges.
 * 100,000 rows generated server-side on both sides, then one row changed, one missing and one extra.
 */
import { describe, expect, it } from 'vitest';
import { verifyParity } from '../src/dev/verify.js';
import { testConfig } from './support/config.js';
import { createDatabasePair } from './support/db.js';
import { exec } from './support/fixtures.js';

const SETUP = `
  create table public.big (id bigint primary key, v text not null, n int);
  insert into public.big select g, md5(g::text), g % 7 from generate_series(1, 100000) g;
  create table public.same (k text, j int, primary key (k, j));
  insert into public.same select 'k' || (g % 10), g from generate_series(1, 1000) g;
  create table public.gone (id int primary key);
  insert into public.gone select g from generate_series(1, 20000) g;
`;

describe('verify --diff', () => {
  it('names exactly the changed, missing and extra rows of a 100k-row table, in a handful of queries', async () => {
    const { local, cloud } = await createDatabasePair('base');
    await Promise.all([exec(local, SETUP), exec(cloud, SETUP)]);
    await exec(
      cloud,
      `update public.big set v = 'changed' where id = 500;
       delete from public.big where id = 600;
       insert into public.big values (100001, 'extra', null);
       truncate public.gone`,
    );

    const report = await verifyParity(testConfig({ local, cloud }), { diff: { limit: 10 } });
    expect(report.tables.map((t) => [t.table, t.equal])).toEqual([
      ['big', false],
      ['gone', false],
      ['same', true],
    ]);
    const [big, gone] = report.diff!.tables;
    expect(big).toMatchObject({
      table: 'big',
      changed: { count: 1, keys: [{ id: 500 }] },
      missing: { count: 1, keys: [{ id: 600 }] },
      extra: { count: 1, keys: [{ id: 100001 }] },
      complete: true,
    });
    // Cut once into key-hash ranges (both servers), then list the few differing ranges (both servers).
    expect(big!.queries).toBeGreaterThanOrEqual(4);
    expect(big!.queries).toBeLessThanOrEqual(6);
    // A table emptied on one side: counted from the range sums, its first keys listed with one query.
    expect(gone).toMatchObject({
      table: 'gone',
      missing: { count: 20000, keys: Array.from({ length: 10 }, (_v, i) => ({ id: i + 1 })) },
      extra: { count: 0 },
      changed: { count: 0 },
      complete: true,
    });
    expect(gone!.queries).toBeLessThanOrEqual(4);
    // The equal table cost nothing beyond verify's checksums; the total is what the report says.
    expect(report.diff!.tables).toHaveLength(2);
    expect(report.diff!.queries).toBe(big!.queries + gone!.queries);
  });
});
