/**
 * The seed generator: realistic, deterministic food-service CRM data for the test users.
 *
 * Pure: no I/O, no clock, no Math.random. The same {@link SeedOptions} give the same rows, byte for
 * byte, on every machine. Each (user, table) pair draws from its own faker stream seeded from
 * `seed`, the user's email and the table name, so changing one user's volumes never moves another
 * user's rows, and changing one table's volume only moves that table and the rows pointing at it.
 *
 * Ids: every owned row's id is {@link seedRowId} (UUIDv5 of `seed:email:table:index`). Reference
 * rows (`segments`, `tags`) are a fixed catalogue whose ids are their 1-based positions
 * ({@link SEGMENTS}, {@link TAGS}); `organizations.segment_id`, `organizations.tag_ids` and
 * `contacts.tag_ids` use those ids. A database may already hold these names under other identity
 * values, so the loader should insert segments/tags by name without the id column
 * (`ON CONFLICT (name) DO NOTHING`, letting the identity assign ids and keep its counter right),
 * read back `id, name`, and apply {@link remapReferenceIds} before loading the owned tables.
 */
import { ConfigError } from '../errors.js';
import { validate as isUuid } from 'uuid';
import { generateContacts, generateOrganizations, type ContactInfo } from './accounts.js';
import { SEGMENTS, TAGS } from './catalog.js';
import { createFaker, daysBefore, tableContext } from './context.js';
import { generateActivities, generateContactNotes, generateTasks, type UserGraph } from './engagement.js';
import { generateDealNotes, generateDeals, generateOpportunities, type OpportunityInfo } from './pipeline.js';
import { generateProducts, skuUserTag } from './products.js';
import {
  DEFAULT_BASE_TIME,
  SEED_TABLES,
  type SeedData,
  type SeedOptions,
  type SeedRow,
  type SeedTableName,
  type SeedUser,
  type SeedVolumes,
} from './types.js';

export { SEED_COLUMN_TYPES } from './columns.js';
export { SEED_ID_NAMESPACE, seedRowId } from './context.js';
export { SEGMENTS, TAGS } from './catalog.js';
export { DEFAULT_BASE_TIME, DEFAULT_VOLUMES, SEED_TABLES } from './types.js';
export type {
  OpportunityOptions,
  SeedData,
  SeedOptions,
  SeedRole,
  SeedRow,
  SeedTableName,
  SeedUser,
  SeedVolumes,
} from './types.js';

const VOLUME_KEYS = [
  'organizations',
  'contacts',
  'opportunities',
  'activities',
  'products',
  'contactNotes',
  'tasks',
] as const satisfies readonly (keyof SeedVolumes)[];

/** Upper bound per table and user: far above any test volume, low enough to catch a typo'd env value. */
const MAX_VOLUME = 1_000_000;

function validateOptions(opts: SeedOptions, baseTime: Date): void {
  const problems: string[] = [];
  if (typeof opts.seed !== 'string' || opts.seed === '') problems.push('seed must be a non-empty string');
  if (Number.isNaN(baseTime.getTime())) problems.push('baseTime is an invalid Date');
  const ids = new Set<string>();
  const emails = new Set<string>();
  const skuTags = new Set<string>();
  for (const user of opts.users) {
    const who = user.email || user.id;
    if (!isUuid(user.id)) problems.push(`user ${who}: id ${JSON.stringify(user.id)} is not a UUID`);
    if (ids.has(user.id)) problems.push(`user ${who}: duplicate id ${user.id}`);
    if (user.email === '') problems.push(`user ${user.id}: email must be non-empty (it keys the row ids)`);
    if (emails.has(user.email)) problems.push(`user ${who}: duplicate email`);
    ids.add(user.id);
    emails.add(user.email);
    for (const key of VOLUME_KEYS) {
      const n = user.volumes[key];
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_VOLUME) {
        problems.push(
          `user ${who}: volume ${key} must be an integer from 0 to ${MAX_VOLUME}, got ${String(n)}`,
        );
      }
    }
    const v = user.volumes;
    if (v.opportunities > 0 && v.organizations === 0)
      problems.push(`user ${who}: opportunities need organizations`);
    if (v.contactNotes > 0 && v.contacts === 0) problems.push(`user ${who}: contact notes need contacts`);
    if (v.products > 0) {
      const tag = skuUserTag(user.id);
      if (skuTags.has(tag)) problems.push(`user ${who}: SKU prefix ${tag} collides with another user's`);
      skuTags.add(tag);
    }
  }
  const { stages, maxAmount, defaultProbability, defaultCategory } = opts.opportunity;
  if (stages.length === 0 || stages.some((s) => s === ''))
    problems.push('opportunity stages must be non-empty');
  if (new Set(stages).size !== stages.length) problems.push('opportunity stages must be unique');
  if (!Number.isFinite(maxAmount) || maxAmount < 0)
    problems.push(`opportunity max amount must be >= 0, got ${maxAmount}`);
  if (!Number.isInteger(defaultProbability) || defaultProbability < 0 || defaultProbability > 100) {
    problems.push(
      `opportunity default probability must be an integer from 0 to 100, got ${defaultProbability}`,
    );
  }
  if (defaultCategory === '') problems.push('opportunity default category must be non-empty');
  if (problems.length > 0) {
    throw new ConfigError('Invalid seed options', { details: problems });
  }
}

function groupInfos<T>(
  items: readonly T[],
  keysOf: (item: T) => readonly (string | null)[],
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    for (const key of keysOf(item)) {
      if (key === null) continue;
      const list = groups.get(key);
      if (list) list.push(item);
      else groups.set(key, [item]);
    }
  }
  return groups;
}

/** All rows of one user, per table, plus the counts recorded in test_user_metadata. */
function generateForUser(
  opts: SeedOptions,
  user: SeedUser,
  baseTime: Date,
  faker: ReturnType<typeof createFaker>,
): { tables: Partial<Record<SeedTableName, SeedRow[]>>; counts: Record<string, number> } {
  const v = user.volumes;
  const ctx = (table: SeedTableName) => tableContext(faker, opts.seed, user, table, baseTime);
  const orgs = generateOrganizations(ctx('organizations'), v.organizations);
  const contacts = generateContacts(ctx('contacts'), v.contacts, orgs.infos);
  const contactsByOrg = groupInfos<ContactInfo>(contacts.infos, (c) => [c.organizationId]);
  const opps = generateOpportunities(
    ctx('opportunities'),
    v.opportunities,
    opts.opportunity,
    orgs.infos,
    contactsByOrg,
  );
  const graph: UserGraph = {
    orgs: orgs.infos,
    contacts: contacts.infos,
    contactsByOrg,
    opportunitiesByOrg: groupInfos<OpportunityInfo>(opps.infos, (o) => [o.organizationId]),
    opportunitiesByContact: groupInfos<OpportunityInfo>(opps.infos, (o) => o.contactIds),
  };
  const contactNotes = generateContactNotes(ctx('contactNotes'), v.contactNotes, graph);
  const deals = generateDeals(ctx('deals'), opps.infos);
  const dealNotes = generateDealNotes(ctx('dealNotes'), deals.rows, deals.closedAt);
  const activities = generateActivities(ctx('activities'), v.activities, graph);
  const tasks = generateTasks(ctx('tasks'), v.tasks, graph);
  const products = generateProducts(ctx('products'), v.products);
  return {
    tables: {
      organizations: orgs.rows,
      contacts: contacts.rows,
      contactNotes,
      opportunities: opps.rows,
      deals: deals.rows,
      dealNotes,
      activities,
      tasks,
      products,
    },
    counts: {
      contacts: contacts.rows.length,
      organizations: orgs.rows.length,
      opportunities: opps.rows.length,
      activities: activities.length,
      tasks: tasks.length,
      notes: contactNotes.length,
      products: products.length,
      deals: deals.rows.length,
      dealNotes: dealNotes.length,
    },
  };
}

/**
 * Generates the seed data set for `opts.users`. Throws a {@link ConfigError} listing every problem
 * when the options are invalid (bad volumes, duplicate users, opportunities without organizations,
 * contact notes without contacts, an empty stage list, a negative max amount…).
 */
export function generateSeedData(opts: SeedOptions): SeedData {
  const baseTime = opts.baseTime ?? DEFAULT_BASE_TIME;
  validateOptions(opts, baseTime);
  const faker = createFaker(baseTime);
  // Reference rows get a fixed timestamp so their content does not depend on who is seeded.
  const referenceTime = daysBefore(baseTime, 730);
  const tables = new Map<SeedTableName, SeedRow[]>(SEED_TABLES.map((t) => [t, []]));
  tables.set(
    'segments',
    SEGMENTS.map((s, i) => ({
      id: i + 1,
      name: s.name,
      description: s.description,
      created_at: referenceTime,
      updated_at: referenceTime,
    })),
  );
  tables.set(
    'tags',
    TAGS.map((t, i) => ({
      id: i + 1,
      name: t.name,
      color: t.color,
      created_at: referenceTime,
      updated_at: referenceTime,
    })),
  );
  const countsByUser = new Map<string, Record<string, number>>();
  for (const user of opts.users) {
    const generated = generateForUser(opts, user, baseTime, faker);
    for (const [table, rows] of Object.entries(generated.tables) as [SeedTableName, SeedRow[]][]) {
      tables.get(table)?.push(...rows);
    }
    countsByUser.set(user.id, generated.counts);
  }
  return { tables, countsByUser };
}

/** A reference id as the database returned it: bigint columns arrive from pg as strings. */
export type ReferenceId = number | string;

/**
 * Rewrites the segment and tag ids of `data` to the ids a database actually holds for the same
 * names: `segments.id`, `tags.id`, `organizations.segment_id`, `organizations.tag_ids` and
 * `contacts.tag_ids`. Returns a new {@link SeedData}; rows of other tables are shared, not copied.
 * Throws a RangeError if a catalogue name is missing from a map (the reference upsert did not run).
 */
export function remapReferenceIds(
  data: SeedData,
  segmentIdByName: ReadonlyMap<string, ReferenceId>,
  tagIdByName: ReadonlyMap<string, ReferenceId>,
): SeedData {
  const idMap = (table: 'segments' | 'tags', byName: ReadonlyMap<string, ReferenceId>) => {
    const map = new Map<unknown, ReferenceId>();
    for (const row of data.tables.get(table) ?? []) {
      const id = byName.get(String(row.name));
      if (id === undefined)
        throw new RangeError(`remapReferenceIds: no id for ${table} name ${JSON.stringify(row.name)}`);
      map.set(row.id, id);
    }
    return map;
  };
  const segments = idMap('segments', segmentIdByName);
  const tags = idMap('tags', tagIdByName);
  const mapOne = (map: Map<unknown, ReferenceId>, id: unknown) =>
    id === null || id === undefined ? id : (map.get(id) ?? id);
  const mapTags = (ids: unknown) => (Array.isArray(ids) ? ids.map((id: unknown) => mapOne(tags, id)) : ids);
  const rewrite: Partial<Record<string, (row: SeedRow) => SeedRow>> = {
    segments: (row) => ({ ...row, id: mapOne(segments, row.id) }),
    tags: (row) => ({ ...row, id: mapOne(tags, row.id) }),
    organizations: (row) => ({
      ...row,
      segment_id: mapOne(segments, row.segment_id),
      tag_ids: mapTags(row.tag_ids),
    }),
    contacts: (row) => ({ ...row, tag_ids: mapTags(row.tag_ids) }),
  };
  const tables = new Map<string, readonly SeedRow[]>();
  for (const [table, rows] of data.tables) {
    const fn = rewrite[table];
    tables.set(table, fn ? rows.map(fn) : rows);
  }
  return { tables, countsByUser: data.countsByUser };
}
