/**
 * Public types and defaults of the seed generator (see ./generate.ts).
 */

/** Test-user roles, as in `public.sales.role`. */
export type SeedRole = 'admin' | 'sales_director' | 'account_manager';

/** How many rows of each owned table to generate for one user. Deals and deal notes follow from the opportunities. */
export interface SeedVolumes {
  organizations: number;
  contacts: number;
  opportunities: number;
  activities: number;
  products: number;
  contactNotes: number;
  tasks: number;
}

/** A test user whose data is generated; `id` becomes the rows' `sales_id` (and products' `created_by`). */
export interface SeedUser {
  id: string;
  email: string;
  role: SeedRole;
  volumes: SeedVolumes;
}

/** Pipeline settings, from the spec's `OPPORTUNITY_*` environment variables (§3.8). */
export interface OpportunityOptions {
  /** `OPPORTUNITY_PIPELINE_STAGES`, in pipeline order; `closed_won` and `closed_lost` are recognised by name. */
  stages: readonly string[];
  /** `OPPORTUNITY_MAX_AMOUNT`: no generated amount exceeds it. */
  maxAmount: number;
  /** `OPPORTUNITY_DEFAULT_PROBABILITY` (0–100): open opportunities sit at or near it. */
  defaultProbability: number;
  /** `OPPORTUNITY_DEFAULT_CATEGORY`: the category of most opportunities. */
  defaultCategory: string;
}

/** Input of {@link import('./generate.js').generateSeedData}. */
export interface SeedOptions {
  /** Any string; the same seed (and the same other options) gives the same rows and ids everywhere. */
  seed: string;
  users: readonly SeedUser[];
  opportunity: OpportunityOptions;
  /** Reference time for every timestamp ("now" of the data set), never the wall clock. Default {@link DEFAULT_BASE_TIME}. */
  baseTime?: Date;
}

/** A generated row: column name → value (string, number, boolean, null, Date, array, or a jsonb object). */
export type SeedRow = Readonly<Record<string, unknown>>;

/**
 * Output of the generator.
 *
 * `tables` maps real table names (`contactNotes`, `dealNotes` are camelCase in the database and must
 * be quoted in SQL) to rows. The map's iteration order is a valid load order (parents first, as
 * {@link SEED_TABLES}). Every row of a table has the same keys in the same order, exactly the
 * columns of {@link import('./columns.js').SEED_COLUMN_TYPES}, so `Object.keys(rows[0])` is a
 * valid COPY column list. `sales`, `auth.*` and `test_user_metadata` are not generated: the users
 * command writes those.
 *
 * `countsByUser` maps each user id to the rows generated for it, keyed like the spec's
 * `test_data_counts` (`notes` = contact notes) plus `products`, `deals`, `dealNotes`.
 */
export interface SeedData {
  readonly tables: ReadonlyMap<string, readonly SeedRow[]>;
  readonly countsByUser: ReadonlyMap<string, Record<string, number>>;
}

/** One table of a {@link SeedStream}. */
export interface SeedTable {
  readonly name: SeedTableName;
  /** Its row count, when known before its rows are generated (every table but `dealNotes`). */
  readonly total: number | undefined;
  /** Its rows, generated as they are read; reading again generates the same rows. */
  readonly rows: Iterable<SeedRow>;
}

/**
 * The seed data set as a stream (see {@link import('./generate.js').streamSeedData}): the tables of
 * {@link SEED_TABLES}, one at a time, each with rows as described for {@link SeedData}. A table's
 * rows are meant to be read before the next table is taken; rows left unread are generated (and
 * dropped) then, since later tables point at them.
 */
export interface SeedStream {
  readonly tables: Generator<SeedTable>;
  /** As {@link SeedData.countsByUser}; complete once every table has been taken. */
  readonly countsByUser: ReadonlyMap<string, Record<string, number>>;
}

/**
 * Most rows one table may have per user: the same limit for the SEED_*_COUNT settings and the
 * generator. Tables nothing points at (activities, tasks, notes, products) cost no memory at any
 * volume; of organizations, contacts and opportunities the generator keeps 30–90 bytes per row (see
 * ./facts.ts): with all three at this limit for three users, ~0.6 GB kept and ~1.2 GB peak RSS.
 */
export const MAX_SEED_VOLUME = 1_000_000;

/** Generated tables in foreign-key order (parents first). */
export const SEED_TABLES = [
  'segments',
  'tags',
  'organizations',
  'contacts',
  'contactNotes',
  'opportunities',
  'deals',
  'dealNotes',
  'activities',
  'tasks',
  'products',
] as const;

/** One of {@link SEED_TABLES}. */
export type SeedTableName = (typeof SEED_TABLES)[number];

/** Default reference time: the spec's date (the test-users migration is `20251016000000`). */
export const DEFAULT_BASE_TIME = new Date('2025-10-16T12:00:00.000Z');

/**
 * Default per-role volumes from the spec's `create-test-users.sh` (orgs, contacts, opportunities,
 * activities, products). The spec gives contact notes and tasks only as totals (150 and 75 over the
 * three users); they are split roughly in proportion to the contacts (50/30/20 %).
 */
export const DEFAULT_VOLUMES: Readonly<Record<SeedRole, Readonly<SeedVolumes>>> = Object.freeze({
  admin: Object.freeze({
    organizations: 50,
    contacts: 100,
    opportunities: 75,
    activities: 200,
    products: 100,
    contactNotes: 75,
    tasks: 37,
  }),
  sales_director: Object.freeze({
    organizations: 30,
    contacts: 60,
    opportunities: 40,
    activities: 120,
    products: 0,
    contactNotes: 45,
    tasks: 23,
  }),
  account_manager: Object.freeze({
    organizations: 20,
    contacts: 40,
    opportunities: 25,
    activities: 80,
    products: 0,
    contactNotes: 30,
    tasks: 15,
  }),
});
