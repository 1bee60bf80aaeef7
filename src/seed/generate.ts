/**
 * The seed generator: realistic, deterministic food-service CRM data for the test users.
 *
 * Pure: no I/O, no clock, no Math.random. The same {@link SeedOptions} give the same rows, byte for
 * byte, on every machine. Each (user, table) pair draws from its own faker stream seeded from
 * `seed`, the user's email and the table name, so changing one user's volumes never moves another
 * user's rows, and changing one table's volume only moves that table and the rows pointing at it.
 *
 * Streaming: {@link streamSeedData} generates one table at a time, rows as they are read, so a
 * million-row table never sits in memory; of earlier tables it keeps only what later rows point at
 * (ids, names, dates: see ./facts.ts). {@link generateSeedData} collects the same rows into arrays.
 *
 * Ids: every owned row's id is {@link seedRowId} (UUIDv5 of `seed:email:table:index`). Reference
 * rows (`segments`, `tags`) are a fixed catalogue whose ids are their 1-based positions
 * ({@link SEGMENTS}, {@link TAGS}); `organizations.segment_id`, `organizations.tag_ids` and
 * `contacts.tag_ids` use those ids. A database may already hold these names under other identity
 * values, so the loader should insert segments/tags by name without the id column
 * (`ON CONFLICT (name) DO NOTHING`, letting the identity assign ids and keep its counter right),
 * read back `id, name`, and rewrite rows with {@link referenceIdRemapper} while loading.
 */
import { ConfigError } from '../errors.js';
import { validate as isUuid } from 'uuid';
import { generateContacts, generateOrganizations } from './accounts.js';
import { SEGMENTS, TAGS } from './catalog.js';
import { createFaker, daysBefore, tableContext, type TableContext } from './context.js';
import { generateActivities, generateContactNotes, generateTasks } from './engagement.js';
import { ContactFacts, DealFacts, OpportunityFacts, OrgFacts } from './facts.js';
import { generateDealNotes, generateDeals, generateOpportunities } from './pipeline.js';
import { generateProducts, skuUserTag } from './products.js';
import {
  DEFAULT_BASE_TIME,
  MAX_SEED_VOLUME,
  SEED_TABLES,
  type OpportunityOptions,
  type SeedData,
  type SeedOptions,
  type SeedRow,
  type SeedStream,
  type SeedTable,
  type SeedTableName,
  type SeedUser,
  type SeedVolumes,
} from './types.js';

export { SEED_COLUMN_TYPES } from './columns.js';
export { SEED_ID_NAMESPACE, seedRowId } from './context.js';
export { SEGMENTS, TAGS } from './catalog.js';
export { DEFAULT_BASE_TIME, DEFAULT_VOLUMES, MAX_SEED_VOLUME, SEED_TABLES } from './types.js';
export type {
  OpportunityOptions,
  SeedData,
  SeedOptions,
  SeedRole,
  SeedRow,
  SeedStream,
  SeedTable,
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
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SEED_VOLUME) {
        problems.push(
          `user ${who}: volume ${key} must be an integer from 0 to ${MAX_SEED_VOLUME}, got ${String(n)}`,
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

/** One user's facts so far (see ./facts.ts) and the rows generated per test_data_counts key. */
class UserSeed {
  orgs = new OrgFacts(0);
  contacts = new ContactFacts(0, 0);
  opportunities = new OpportunityFacts(0, 0, 0);
  deals = new DealFacts(0);
  readonly counts: Record<string, number> = {
    contacts: 0,
    organizations: 0,
    opportunities: 0,
    activities: 0,
    tasks: 0,
    notes: 0,
    products: 0,
    deals: 0,
    dealNotes: 0,
  };

  constructor(readonly user: SeedUser) {}

  /** This user's rows of `table`, recording the facts later tables need. */
  rows(table: SeedTableName, ctx: TableContext, opportunity: OpportunityOptions): Iterable<SeedRow> {
    const v = this.user.volumes;
    switch (table) {
      case 'organizations':
        this.orgs = new OrgFacts(v.organizations);
        return generateOrganizations(ctx, v.organizations, this.orgs);
      case 'contacts':
        this.contacts = new ContactFacts(v.contacts, this.orgs.length);
        return generateContacts(ctx, v.contacts, this.orgs, this.contacts);
      case 'contactNotes':
        return generateContactNotes(ctx, v.contactNotes, { orgs: this.orgs, contacts: this.contacts });
      case 'opportunities':
        this.opportunities = new OpportunityFacts(v.opportunities, this.orgs.length, this.contacts.length);
        return generateOpportunities(
          ctx,
          v.opportunities,
          opportunity,
          this.orgs,
          this.contacts,
          this.opportunities,
        );
      case 'deals':
        this.deals = new DealFacts(this.opportunities.wonCount);
        return generateDeals(ctx, this.opportunities, this.orgs, this.deals);
      case 'dealNotes':
        return generateDealNotes(ctx, this.deals);
      case 'activities':
        return generateActivities(ctx, v.activities, this.graph());
      case 'tasks':
        return generateTasks(ctx, v.tasks, this.graph());
      case 'products':
        return generateProducts(ctx, v.products);
      case 'segments':
      case 'tags':
        return [];
    }
  }

  private graph() {
    return { orgs: this.orgs, contacts: this.contacts, opportunities: this.opportunities };
  }
}

/** The test_data_counts key of a table. */
function countKey(table: SeedTableName): string {
  return table === 'contactNotes' ? 'notes' : table;
}

/** Row count of `table` over all users, when it is known before generating it. */
function tableTotal(table: SeedTableName, users: readonly UserSeed[]): number | undefined {
  const sum = (n: (u: UserSeed) => number) => users.reduce((total, u) => total + n(u), 0);
  switch (table) {
    case 'segments':
      return SEGMENTS.length;
    case 'tags':
      return TAGS.length;
    case 'deals':
      return sum((u) => u.opportunities.wonCount);
    case 'dealNotes':
      return undefined;
    default:
      return sum((u) => u.user.volumes[table]);
  }
}

/** The fixed segment and tag rows, with a timestamp that does not depend on who is seeded. */
function referenceRows(table: 'segments' | 'tags', baseTime: Date): SeedRow[] {
  const referenceTime = daysBefore(baseTime, 730);
  const stamps = { created_at: referenceTime, updated_at: referenceTime };
  return table === 'segments'
    ? SEGMENTS.map((s, i) => ({ id: i + 1, name: s.name, description: s.description, ...stamps }))
    : TAGS.map((t, i) => ({ id: i + 1, name: t.name, color: t.color, ...stamps }));
}

/**
 * Generates the seed data set for `opts.users`, one table at a time (see {@link SeedStream}).
 * Throws a {@link ConfigError} listing every problem when the options are invalid (bad volumes,
 * duplicate users, opportunities without organizations, contact notes without contacts, an empty
 * stage list, a negative max amount…).
 */
export function streamSeedData(opts: SeedOptions): SeedStream {
  const baseTime = opts.baseTime ?? DEFAULT_BASE_TIME;
  validateOptions(opts, baseTime);
  const users = opts.users.map((user) => new UserSeed(user));
  function* rowsOf(table: SeedTableName, onComplete: () => void): Generator<SeedRow> {
    if (table === 'segments' || table === 'tags') {
      yield* referenceRows(table, baseTime);
    } else {
      // Each read gets its own faker, so two reads of one table cannot disturb each other's streams.
      const faker = createFaker(baseTime);
      for (const u of users) {
        const ctx = tableContext(faker, opts.seed, u.user, table, baseTime);
        let n = 0;
        for (const row of u.rows(table, ctx, opts.opportunity)) {
          n++;
          yield row;
        }
        u.counts[countKey(table)] = n;
      }
    }
    onComplete();
  }
  function* tables(): Generator<SeedTable> {
    for (const name of SEED_TABLES) {
      let complete = false;
      const rows = { [Symbol.iterator]: () => rowsOf(name, () => (complete = true)) };
      yield { name, total: tableTotal(name, users), rows };
      // Later tables point at this one's rows: generate what was not read.
      if (!complete) for (const row of rows) void row;
    }
  }
  return { tables: tables(), countsByUser: new Map(users.map((u) => [u.user.id, u.counts])) };
}

/** The whole data set in memory: {@link streamSeedData}'s rows collected per table (small volumes, tests). */
export function generateSeedData(opts: SeedOptions): SeedData {
  const stream = streamSeedData(opts);
  const tables = new Map<SeedTableName, SeedRow[]>();
  for (const table of stream.tables) tables.set(table.name, Array.from(table.rows));
  return { tables, countsByUser: stream.countsByUser };
}

/** A reference id as the database returned it: bigint columns arrive from pg as strings. */
export type ReferenceId = number | string;

/**
 * A function that rewrites a row's segment and tag ids to the ids a database actually holds for the
 * same names: `segments.id`, `tags.id`, `organizations.segment_id`, `organizations.tag_ids` and
 * `contacts.tag_ids`; rows of other tables are returned as they are, and no row is modified.
 * Throws a RangeError if a catalogue name is missing from a map (the reference upsert did not run).
 * An id is whatever stands for one: the {@link ReferenceId} a database returned, or (seed export) SQL
 * that looks it up by name when the file is loaded.
 */
export function referenceIdRemapper(
  segmentIdByName: ReadonlyMap<string, unknown>,
  tagIdByName: ReadonlyMap<string, unknown>,
): (table: SeedTableName, row: SeedRow) => SeedRow {
  const idMap = (
    table: 'segments' | 'tags',
    names: readonly string[],
    byName: ReadonlyMap<string, unknown>,
  ) =>
    names.map((name) => {
      const id = byName.get(name);
      if (id === undefined)
        throw new RangeError(`referenceIdRemapper: no id for ${table} name ${JSON.stringify(name)}`);
      return id;
    });
  // Catalogue id n (1-based) becomes segments[n - 1] / tags[n - 1].
  const segments = idMap(
    'segments',
    SEGMENTS.map((s) => s.name),
    segmentIdByName,
  );
  const tags = idMap(
    'tags',
    TAGS.map((t) => t.name),
    tagIdByName,
  );
  const mapOne = (map: readonly unknown[], id: unknown) =>
    typeof id === 'number' ? (map[id - 1] ?? id) : id;
  const mapTags = (ids: unknown) => (Array.isArray(ids) ? ids.map((id: unknown) => mapOne(tags, id)) : ids);
  return (table, row) => {
    switch (table) {
      case 'segments':
        return { ...row, id: mapOne(segments, row.id) };
      case 'tags':
        return { ...row, id: mapOne(tags, row.id) };
      case 'organizations':
        return { ...row, segment_id: mapOne(segments, row.segment_id), tag_ids: mapTags(row.tag_ids) };
      case 'contacts':
        return { ...row, tag_ids: mapTags(row.tag_ids) };
      default:
        return row;
    }
  };
}
