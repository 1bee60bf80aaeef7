import { DEFAULT_PIPELINE_STAGES, loadConfig } from '../src/config.js';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../src/errors.js';
import {
  DEFAULT_BASE_TIME,
  DEFAULT_VOLUMES,
  MAX_SEED_VOLUME,
  SEED_COLUMN_TYPES,
  SEED_ID_NAMESPACE,
  SEED_TABLES,
  SEGMENTS,
  TAGS,
  generateSeedData,
  referenceIdRemapper,
  seedRowId,
  streamSeedData,
  type SeedData,
  type SeedOptions,
  type SeedRow,
  type SeedTableName,
  type SeedUser,
} from '../src/seed/generate.js';
import { DNS_NAMESPACE, uuidV5 } from './support/uuid.js';

const STAGES = [...DEFAULT_PIPELINE_STAGES];

/** The spec's three users, ids as `uuidgen -s -n @dns -N email`. */
function specUsers(
  overrides: Partial<Record<SeedUser['role'], Partial<SeedUser['volumes']>>> = {},
): SeedUser[] {
  return (['admin', 'sales_director', 'account_manager'] as const).map((role) => {
    const email = {
      admin: 'admin@test.local',
      sales_director: 'director@test.local',
      account_manager: 'manager@test.local',
    }[role];
    return {
      id: uuidV5(email, DNS_NAMESPACE),
      email,
      role,
      volumes: { ...DEFAULT_VOLUMES[role], ...overrides[role] },
    };
  });
}

function options(overrides: Partial<SeedOptions> = {}): SeedOptions {
  return {
    seed: 'crm-env-test',
    users: specUsers(),
    opportunity: {
      stages: STAGES,
      maxAmount: 1_000_000,
      defaultProbability: 50,
      defaultCategory: 'new_business',
    },
    baseTime: DEFAULT_BASE_TIME,
    ...overrides,
  };
}

/** Stable JSON: sorted keys, Maps as entry lists, Dates as ISO strings. */
function canonical(value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()].map(([k, v]) => [k, canonical(v)]);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function digest(data: SeedData): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(data)))
    .digest('hex');
}

function rowsOf(data: SeedData, table: string): readonly SeedRow[] {
  return data.tables.get(table) ?? [];
}

function ownerOf(row: SeedRow): unknown {
  return row.sales_id ?? row.created_by;
}

/** Every owned row of one user, per table. */
function userSlice(data: SeedData, userId: string): Record<string, SeedRow[]> {
  return Object.fromEntries(
    SEED_TABLES.map((t) => [t, rowsOf(data, t).filter((r) => ownerOf(r) === userId)]),
  );
}

// Recorded from the generator's output. It changes only on purpose: a new catalogue entry, a changed
// template, or a faker upgrade that alters its algorithms (faker does not promise stable values
// across versions). Re-record it then, and say so in the commit.
const EXPECTED_DIGEST = 'f6c4454f2b1d929bdc5e9bb2f0dc8d48b245198d9fe105b1df2105a36deb2621';

describe('generateSeedData', () => {
  const data = generateSeedData(options());
  const users = specUsers();

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('is deterministic: same options, same rows, fixed digest', () => {
    const again = generateSeedData(options());
    expect(again).toEqual(data);
    expect(digest(again)).toBe(digest(data));
    expect(digest(data)).toBe(EXPECTED_DIGEST);
  });

  it('does not depend on the clock or on Math.random', () => {
    vi.useFakeTimers({ now: new Date('2031-02-03T04:05:06Z') });
    // Faker's constructor draws its initial seed from Math.random; every stream is reseeded before use.
    vi.spyOn(Math, 'random').mockReturnValue(0.123456);
    expect(digest(generateSeedData(options()))).toBe(digest(data));
  });

  it('derives ids as UUIDv5 of seed:email:table:index in the project namespace', () => {
    expect(SEED_ID_NAMESPACE).toBe(uuidV5('crm-env.seed', DNS_NAMESPACE));
    const admin = users[0]!;
    expect(rowsOf(data, 'contacts')[0]?.id).toBe(
      uuidV5(`crm-env-test:${admin.email}:contacts:0`, SEED_ID_NAMESPACE),
    );
    expect(seedRowId('s', 'e', 't', 3)).toBe(uuidV5('s:e:t:3', SEED_ID_NAMESPACE));
    const ids = SEED_TABLES.filter((t) => t !== 'segments' && t !== 'tags').flatMap((t) =>
      rowsOf(data, t).map((r) => r.id),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('generates exactly the requested volumes and reports them in countsByUser', () => {
    for (const user of users) {
      const slice = userSlice(data, user.id);
      const v = user.volumes;
      expect(slice.organizations).toHaveLength(v.organizations);
      expect(slice.contacts).toHaveLength(v.contacts);
      expect(slice.opportunities).toHaveLength(v.opportunities);
      expect(slice.activities).toHaveLength(v.activities);
      expect(slice.products).toHaveLength(v.products);
      expect(slice.contactNotes).toHaveLength(v.contactNotes);
      expect(slice.tasks).toHaveLength(v.tasks);
      expect(data.countsByUser.get(user.id)).toEqual({
        contacts: v.contacts,
        organizations: v.organizations,
        opportunities: v.opportunities,
        activities: v.activities,
        tasks: v.tasks,
        notes: v.contactNotes,
        products: v.products,
        deals: slice.deals?.length,
        dealNotes: slice.dealNotes?.length,
      });
    }
  });

  it('splits the spec totals: 150 contact notes and 75 tasks over the default volumes', () => {
    const defaults = Object.values(DEFAULT_VOLUMES);
    expect(defaults.reduce((n, v) => n + v.contactNotes, 0)).toBe(150);
    expect(defaults.reduce((n, v) => n + v.tasks, 0)).toBe(75);
    expect(rowsOf(data, 'contactNotes')).toHaveLength(150);
    expect(rowsOf(data, 'tasks')).toHaveLength(75);
    expect(DEFAULT_VOLUMES.admin).toMatchObject({
      organizations: 50,
      contacts: 100,
      opportunities: 75,
      activities: 200,
      products: 100,
    });
    expect(DEFAULT_VOLUMES.sales_director).toMatchObject({
      organizations: 30,
      contacts: 60,
      opportunities: 40,
      activities: 120,
      products: 0,
    });
    expect(DEFAULT_VOLUMES.account_manager).toMatchObject({
      organizations: 20,
      contacts: 40,
      opportunities: 25,
      activities: 80,
      products: 0,
    });
  });

  it('writes exactly the contract columns, in the same order, for every row', () => {
    for (const table of SEED_TABLES) {
      const expected = Object.keys(SEED_COLUMN_TYPES[table]);
      for (const row of rowsOf(data, table)) expect(Object.keys(row)).toEqual(expected);
    }
    expect(rowsOf(data, 'segments').map((r) => [r.id, r.name])).toEqual(
      SEGMENTS.map((s, i) => [i + 1, s.name]),
    );
    expect(rowsOf(data, 'tags').map((r) => [r.id, r.name])).toEqual(TAGS.map((t, i) => [i + 1, t.name]));
  });

  it('puts every pipeline stage in each user’s opportunities, with stage-consistent probabilities', () => {
    for (const user of users) {
      const opps = userSlice(data, user.id).opportunities ?? [];
      expect(opps.length).toBeGreaterThanOrEqual(8);
      expect(new Set(opps.map((o) => o.stage))).toEqual(new Set(STAGES));
      for (const o of opps) {
        const p = o.probability as number;
        if (o.stage === 'closed_won') expect(p).toBe(100);
        else if (o.stage === 'closed_lost') expect(p).toBe(0);
        else expect(Math.abs(p - 50)).toBeLessThanOrEqual(25);
      }
      const categories = opps.map((o) => o.category);
      expect(categories.filter((c) => c === 'new_business').length).toBeGreaterThan(opps.length / 3);
      for (const c of categories) expect(['new_business', 'upsell', 'renewal', 'sample']).toContain(c);
    }
  });

  it('keeps amounts within maxAmount with two decimals, also for small limits', () => {
    const cents = (x: unknown) => Math.abs((x as number) * 100 - Math.round((x as number) * 100)) < 1e-6;
    for (const maxAmount of [1_000_000, 999.99, 0.29, 0]) {
      const d =
        maxAmount === 1_000_000
          ? data
          : generateSeedData(options({ opportunity: { ...options().opportunity, maxAmount } }));
      for (const row of [...rowsOf(d, 'opportunities'), ...rowsOf(d, 'deals')]) {
        expect(row.amount as number).toBeLessThanOrEqual(maxAmount);
        expect(row.amount as number).toBeGreaterThanOrEqual(0);
        expect(cents(row.amount)).toBe(true);
      }
    }
    for (const row of rowsOf(data, 'products')) expect(cents(row.unit_price)).toBe(true);
  });

  it('points every foreign key at a row of the same user', () => {
    const owner = new Map<unknown, unknown>();
    for (const t of SEED_TABLES) for (const r of rowsOf(data, t)) owner.set(r.id, ownerOf(r));
    const sameOwner = (row: SeedRow, ref: unknown, table: string) => {
      if (ref === null) return;
      expect(
        rowsOf(data, table).some((r) => r.id === ref),
        `${String(ref)} in ${table}`,
      ).toBe(true);
      expect(owner.get(ref)).toBe(row.sales_id);
    };
    for (const r of rowsOf(data, 'contacts')) sameOwner(r, r.organization_id, 'organizations');
    for (const r of rowsOf(data, 'contactNotes')) sameOwner(r, r.contact_id, 'contacts');
    for (const r of rowsOf(data, 'opportunities')) {
      sameOwner(r, r.organization_id, 'organizations');
      for (const c of r.contact_ids as string[]) sameOwner(r, c, 'contacts');
    }
    const opps = new Map(rowsOf(data, 'opportunities').map((o) => [o.id, o]));
    for (const r of rowsOf(data, 'deals')) {
      sameOwner(r, r.opportunity_id, 'opportunities');
      sameOwner(r, r.organization_id, 'organizations');
      const opp = opps.get(r.opportunity_id);
      expect(opp?.stage).toBe('closed_won');
      expect(r.amount).toBe(opp?.amount);
      expect(r.organization_id).toBe(opp?.organization_id);
    }
    for (const r of rowsOf(data, 'dealNotes')) sameOwner(r, r.deal_id, 'deals');
    for (const r of rowsOf(data, 'activities')) {
      sameOwner(r, r.organization_id, 'organizations');
      sameOwner(r, r.contact_id, 'contacts');
      sameOwner(r, r.opportunity_id, 'opportunities');
    }
    for (const r of rowsOf(data, 'tasks')) {
      sameOwner(r, r.contact_id, 'contacts');
      sameOwner(r, r.opportunity_id, 'opportunities');
    }
    for (const r of rowsOf(data, 'organizations')) {
      if (r.segment_id !== null) expect(r.segment_id).toBeGreaterThanOrEqual(1);
      expect(r.segment_id === null || (r.segment_id as number) <= SEGMENTS.length).toBe(true);
    }
    const tagIds = [...rowsOf(data, 'organizations'), ...rowsOf(data, 'contacts')].flatMap(
      (r) => r.tag_ids as number[],
    );
    for (const id of tagIds) expect(id >= 1 && id <= TAGS.length).toBe(true);
  });

  it('creates one deal per closed-won opportunity and one or two notes per deal', () => {
    const won = rowsOf(data, 'opportunities').filter((o) => o.stage === 'closed_won');
    expect(rowsOf(data, 'deals').map((d) => d.opportunity_id)).toEqual(won.map((o) => o.id));
    for (const deal of rowsOf(data, 'deals')) {
      const n = rowsOf(data, 'dealNotes').filter((x) => x.deal_id === deal.id).length;
      expect(n >= 1 && n <= 2).toBe(true);
    }
  });

  it('keeps the admin’s rows unchanged when another user’s volumes change', () => {
    const changed = generateSeedData(
      options({ users: specUsers({ sales_director: { contacts: 7, opportunities: 9, tasks: 3 } }) }),
    );
    const admin = users[0]!.id;
    expect(userSlice(changed, admin)).toEqual(userSlice(data, admin));
    expect(changed.countsByUser.get(users[1]!.id)).toMatchObject({ contacts: 7, opportunities: 9, tasks: 3 });
    // Within a user, a table's volume moves only that table and rows pointing at it.
    const moreTasks = generateSeedData(options({ users: specUsers({ admin: { tasks: 50 } }) }));
    expect(userSlice(moreTasks, admin).organizations).toEqual(userSlice(data, admin).organizations);
    expect(userSlice(moreTasks, admin).opportunities).toEqual(userSlice(data, admin).opportunities);
  });

  it('keeps timestamps at or before baseTime and updated_at >= created_at', () => {
    for (const t of SEED_TABLES) {
      for (const r of rowsOf(data, t)) {
        for (const v of Object.values(r))
          if (v instanceof Date) expect(v.getTime()).toBeLessThanOrEqual(DEFAULT_BASE_TIME.getTime());
        expect((r.updated_at as Date).getTime()).toBeGreaterThanOrEqual((r.created_at as Date).getTime());
      }
    }
  });

  it('contains values that are hard for COPY and CSV, and unique SKUs and org names', () => {
    const texts = SEED_TABLES.flatMap((t) => rowsOf(data, t))
      .flatMap((r) => Object.values(r))
      .filter((v) => typeof v === 'string');
    expect(texts.some((s) => s.includes("'"))).toBe(true);
    expect(texts.some((s) => s.includes(','))).toBe(true);
    expect(texts.some((s) => s.includes('\n'))).toBe(true);
    expect(texts.some((s) => s.includes('\t'))).toBe(true);
    expect(texts.some((s) => s.includes('\\N'))).toBe(true);
    expect(texts.some((s) => /[^ -~\s]/.test(s))).toBe(true);
    expect(texts).toContain('');
    const names = rowsOf(data, 'contacts').map((c) => `${String(c.first_name)} ${String(c.last_name)}`);
    expect(names.some((n) => /José|Zoë/.test(n))).toBe(true);
    const skus = rowsOf(data, 'products').map((p) => p.sku);
    expect(new Set(skus).size).toBe(skus.length);
    for (const user of users) {
      const orgNames = (userSlice(data, user.id).organizations ?? []).map((o) => o.name);
      expect(new Set(orgNames).size).toBe(orgNames.length);
    }
  });

  it('handles custom stage lists (no closed_won: no deals) and zero volumes', () => {
    const d = generateSeedData(
      options({
        opportunity: {
          stages: ['new_lead', 'closed_lost'],
          maxAmount: 5000,
          defaultProbability: 30,
          defaultCategory: 'sample',
        },
        users: specUsers({
          account_manager: {
            organizations: 0,
            contacts: 0,
            opportunities: 0,
            activities: 3,
            contactNotes: 0,
            tasks: 2,
          },
        }),
      }),
    );
    expect(rowsOf(d, 'deals')).toHaveLength(0);
    expect(new Set(rowsOf(d, 'opportunities').map((o) => o.stage))).toEqual(
      new Set(['new_lead', 'closed_lost']),
    );
    const manager = userSlice(d, users[2]!.id);
    expect(manager.activities?.every((a) => a.organization_id === null && a.contact_id === null)).toBe(true);
    expect(manager.tasks?.every((t) => t.contact_id === null)).toBe(true);
  });

  it('rejects invalid options with one ConfigError listing every problem', () => {
    const bad = options({
      seed: '',
      users: specUsers({ admin: { contacts: -1, organizations: 0 }, sales_director: { tasks: 1.5 } }),
      opportunity: { stages: [], maxAmount: -1, defaultProbability: 101, defaultCategory: 'new_business' },
    });
    let error: unknown;
    try {
      generateSeedData(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    // One line per problem: the empty seed, two of the admin's volumes, the director's tasks, and the
    // stages, maximum amount and probability of opportunities.
    const details = (error as ConfigError).details;
    expect(details).toHaveLength(7);
    expect(details.filter((d) => d.includes('admin@test.local'))).toHaveLength(2);
    expect(details.filter((d) => d.includes('director@test.local'))).toEqual([
      expect.stringContaining('tasks'),
    ]);
    const dup = specUsers();
    expect(() => generateSeedData(options({ users: [dup[0]!, dup[0]!] }))).toThrow(ConfigError);
  });

  it('takes volumes up to MAX_SEED_VOLUME, the same limit the SEED_*_COUNT settings have', () => {
    const config = (n: number) =>
      loadConfig({
        cwd: path.join(os.tmpdir(), 'crm-env-no-project'),
        env: { SEED_ACTIVITY_COUNT: String(n) },
      });
    expect(config(MAX_SEED_VOLUME).seed.volumeOverrides.activities).toBe(MAX_SEED_VOLUME);
    expect(() => config(MAX_SEED_VOLUME + 1)).toThrow(ConfigError);
    const over = options({ users: specUsers({ admin: { activities: MAX_SEED_VOLUME + 1 } }) });
    expect(() => streamSeedData(over)).toThrow(ConfigError);
    expect(() =>
      streamSeedData(options({ users: specUsers({ admin: { activities: MAX_SEED_VOLUME } }) })),
    ).not.toThrow();
  });
});

describe('referenceIdRemapper', () => {
  const data = generateSeedData(options());
  const segmentIds = new Map(SEGMENTS.map((s, i) => [s.name, String(100 + i)]));
  const tagIds = new Map(TAGS.map((t, i) => [t.name, 500 + i]));

  it('rewrites segment and tag ids by name and leaves everything else alone', () => {
    const remap = referenceIdRemapper(segmentIds, tagIds);
    const remapped = (table: SeedTableName) => rowsOf(data, table).map((row) => remap(table, row));
    expect(remapped('segments').map((r) => r.id)).toEqual(SEGMENTS.map((_s, i) => String(100 + i)));
    expect(remapped('tags').map((r) => r.id)).toEqual(TAGS.map((_t, i) => 500 + i));
    const orgs = remapped('organizations');
    rowsOf(data, 'organizations').forEach((org, i) => {
      const after = orgs[i]!;
      expect(after.segment_id).toBe(org.segment_id === null ? null : String(99 + (org.segment_id as number)));
      expect(after.tag_ids).toEqual((org.tag_ids as number[]).map((id) => 499 + id));
      expect({ ...after, segment_id: 0, tag_ids: 0 }).toEqual({ ...org, segment_id: 0, tag_ids: 0 });
    });
    const contacts = remapped('contacts');
    rowsOf(data, 'contacts').forEach((c, i) => {
      expect(contacts[i]!.tag_ids).toEqual((c.tag_ids as number[]).map((id) => 499 + id));
    });
    const opp = rowsOf(data, 'opportunities')[0]!;
    expect(remap('opportunities', opp)).toBe(opp);
    // The input is not modified.
    expect(digest(data)).toBe(digest(generateSeedData(options())));
  });

  it('throws when a catalogue name has no id', () => {
    const partial = new Map([...segmentIds].slice(1));
    expect(() => referenceIdRemapper(partial, tagIds)).toThrow(/Fine Dining/);
  });
});
