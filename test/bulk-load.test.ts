/**
 * The push's bulk path (src/db/bulk-load.ts), with a threshold of 2 rows so small data takes it:
 * the cloud's constraints and indexes after the push are the ones it had (names, definitions, flags);
 * a failure between the drop and the re-create rolls everything back; a role that does not own a
 * large table falls back to the normal load; and a cycle of non-deferrable foreign keys pushes.
 */
import { describe, expect, it } from 'vitest';
import { syncPush } from '../src/dev/sync.js';
import { verifyParity } from '../src/dev/verify.js';
import { withClient } from '../src/db/connect.js';
import { CrmEnvError, OperationError } from '../src/errors.js';
import type { Reporter } from '../src/reporter.js';
import { silentReporter } from '../src/reporter.js';
import { testConfig } from './support/config.js';
import { createDatabasePair } from './support/db.js';
import { asSuperuser, databaseState, exec, insertCrmDataset, tableChecksums } from './support/fixtures.js';
import { waitFor } from './support/wait.js';

const BULK = { SYNC_BULK_MIN_ROWS: '2' };

/** Every constraint and index of public, as the catalog defines them. */
async function catalog(url: string): Promise<Record<string, unknown>[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query(`
      select 'constraint' as kind, conrelid::regclass::text as tbl, conname::text as name,
             pg_get_constraintdef(oid) as def, convalidated, condeferrable, condeferred,
             obj_description(oid, 'pg_constraint') as comment
        from pg_constraint where connamespace = 'public'::regnamespace
      union all
      select 'index', tablename::text, indexname::text, indexdef, null, null, null,
             obj_description(format('%I.%I', schemaname, indexname)::regclass, 'pg_class')
        from pg_indexes where schemaname = 'public'
      order by 1, 2, 3`);
    return rows;
  });
}

/** Local with the dataset and a few activities; a cloud with other data and extra catalog shapes. */
async function preparePair(): Promise<{ local: string; cloud: string }> {
  const pair = await createDatabasePair('crm');
  await Promise.all([
    insertCrmDataset(pair.local, { tag: 'local', segments: 3 }),
    insertCrmDataset(pair.cloud, { tag: 'cloud', segments: 2 }),
  ]);
  await exec(
    pair.local,
    `insert into public.activities (type, subject, occurred_at, sales_id, contact_id)
     select 'call', 'a' || g, now(), c.sales_id, c.id from public.contacts c, generate_series(1, 3) g`,
  );
  // What the path must re-create exactly, or leave alone: NOT VALID and deferrable keys, partial and
  // expression indexes, a unique index, a commented index.
  await exec(
    pair.cloud,
    `alter table public.activities add constraint activities_contact_nv foreign key (contact_id)
       references public.contacts (id) not valid;
     alter table public.activities add constraint activities_opportunity_deferred foreign key (opportunity_id)
       references public.opportunities (id) on delete cascade deferrable initially deferred;
     create index activities_subject_lower_idx on public.activities (lower(subject)) where body is not null;
     create unique index activities_subject_uniq on public.activities (subject, occurred_at, id);
     comment on index public.activities_sales_id_idx is 'kept in place'`,
  );
  return pair;
}

/** Waits until no other session is connected to the database of `url` (the push's are gone). */
async function sessionsGone(url: string): Promise<void> {
  const db = decodeURIComponent(new URL(url).pathname.slice(1));
  await asSuperuser(url, (c) =>
    waitFor('no other session on the database', async () => {
      const { rows } = await c.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [db],
      );
      return rows[0]!.n === 0 ? true : undefined;
    }),
  );
}

async function pushError(push: Promise<unknown>): Promise<CrmEnvError> {
  const outcome = await push.then(
    () => new Error('the push succeeded but was expected to fail'),
    (e: unknown) => e,
  );
  if (!(outcome instanceof CrmEnvError)) throw outcome;
  return outcome;
}

describe('sync push: bulk path', () => {
  it('drops and re-creates indexes and foreign keys; the committed catalog is identical to before', async () => {
    const { local, cloud } = await preparePair();
    const before = await catalog(cloud);
    const config = testConfig({ local, cloud, env: BULK });

    const result = await syncPush(config, { force: true });

    expect(result.bulkLoad.tables).toContain('activities');
    expect(result.bulkLoad.indexes).toBeGreaterThanOrEqual(5);
    expect(result.bulkLoad.foreignKeys).toBeGreaterThanOrEqual(5);
    expect(result.bulkLoad.notOwned).toEqual([]);
    expect(await catalog(cloud)).toEqual(before);
    expect((await verifyParity(config)).equal).toBe(true);
    expect(await tableChecksums(cloud)).toEqual(await tableChecksums(local));
  });

  it('a foreign key that cannot be re-added, or Ctrl-C between drop and re-create, rolls everything back', async () => {
    const { local, cloud } = await preparePair();
    const before = { catalog: await catalog(cloud), state: await databaseState(cloud) };
    const config = testConfig({ local, cloud, env: BULK });
    // Local lacks one of the cloud's keys and holds a row it rejects: only the re-add can fail.
    await exec(
      local,
      `alter table public.activities drop constraint activities_contact_id_fkey;
       insert into public.activities (type, subject, occurred_at, sales_id, contact_id)
       select 'call', 'orphan', now(), sales_id, gen_random_uuid() from public.contacts limit 1`,
    );
    const err = await pushError(syncPush(config, { force: true }));
    expect(err).toBeInstanceOf(OperationError);
    expect(err.exitCode).toBe(1);
    await sessionsGone(cloud);
    expect(await catalog(cloud)).toEqual(before.catalog);
    expect(await databaseState(cloud)).toEqual(before.state);

    // Ctrl-C once the indexes and keys are dropped, while the tables load.
    const controller = new AbortController();
    const reporter: Reporter = {
      ...silentReporter,
      progress: (p) => {
        if (p.label === 'loading activities') controller.abort();
      },
    };
    const aborted = await pushError(syncPush(config, { force: true, signal: controller.signal }, reporter));
    expect(controller.signal.aborted).toBe(true);
    expect(aborted.exitCode).toBe(1);
    await sessionsGone(cloud);
    expect(await catalog(cloud)).toEqual(before.catalog);
    expect(await databaseState(cloud)).toEqual(before.state);
  });

  it('a large table the role does not own loads the normal way, and the push still succeeds', async () => {
    const { local, cloud } = await preparePair();
    await asSuperuser(cloud, (c) =>
      c.query(`do $$ begin create role crm_env_other_owner nologin; exception when duplicate_object then null; end $$;
               alter table public.activities owner to crm_env_other_owner;
               grant all on public.activities to postgres`),
    );
    const before = await catalog(cloud);
    const config = testConfig({ local, cloud, env: BULK });

    const result = await syncPush(config, { force: true });

    expect(result.bulkLoad.notOwned).toEqual(['activities']);
    expect(result.bulkLoad.tables).not.toContain('activities');
    expect(result.bulkLoad.tables).toContain('contacts');
    expect(await catalog(cloud)).toEqual(before);
    expect((await verifyParity(config)).equal).toBe(true);
  });

  it('tables whose non-deferrable foreign keys form a cycle push and verify', async () => {
    const { local, cloud } = await preparePair();
    const cycle = `alter table public.organizations add column primary_contact_id uuid
                     constraint organizations_primary_contact_fkey references public.contacts (id)`;
    await Promise.all([exec(local, cycle), exec(cloud, cycle)]);
    await exec(
      local,
      `update public.organizations o set primary_contact_id =
         (select c.id from public.contacts c where c.organization_id = o.id order by c.id limit 1)`,
    );
    const before = await catalog(cloud);
    const config = testConfig({ local, cloud });

    const result = await syncPush(config, { force: true });

    expect(result.bulkLoad.tables).toEqual([]);
    expect(result.bulkLoad.cycleForeignKeys).toEqual(
      expect.arrayContaining(['organizations.organizations_primary_contact_fkey']),
    );
    expect(await catalog(cloud)).toEqual(before);
    expect((await verifyParity(config)).equal).toBe(true);
    expect(await tableChecksums(cloud)).toEqual(await tableChecksums(local));
    const { rows } = await exec(
      cloud,
      `select count(*)::int as n from public.organizations where primary_contact_id is not null`,
    );
    expect(rows[0].n).toBeGreaterThan(0);
  });
});
