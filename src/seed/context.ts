/**
 * Shared machinery of the seed generators: deterministic ids, per-(user, table) random streams and
 * date helpers. Nothing here reads the clock or Math.random.
 */
import { createHash } from 'node:crypto';
import type { Faker } from '@faker-js/faker';
// The locale entry point loads in ~20 ms; the package root pulls in every locale (~130 ms), which
// would eat a tenth of the users:create budget. Its instance only lends us its class and en_US data.
import { faker as enUsFaker } from '@faker-js/faker/locale/en_US';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';
import type { SeedUser } from './types.js';

/** Namespace of all seeded row ids: UUIDv5('crm-env.seed', DNS namespace) = 66b06e0e-0b96-5973-9603-1191c09db28f. */
export const SEED_ID_NAMESPACE: string = uuidv5('crm-env.seed', uuidv5.DNS);
// Parsed once: uuid would otherwise re-parse the namespace string for each of the ~1,300 ids.
const NAMESPACE_BYTES = parseUuid(SEED_ID_NAMESPACE);

const DAY_MS = 86_400_000;

/**
 * Deterministic id of the `index`-th row of `table` owned by `email` under `seed`:
 * UUIDv5(`${seed}:${email}:${table}:${index}`, {@link SEED_ID_NAMESPACE}).
 */
export function seedRowId(seed: string, email: string, table: string, index: number): string {
  return uuidv5(`${seed}:${email}:${table}:${index}`, NAMESPACE_BYTES);
}

/** {@link seedRowId} as 16 bytes written into `into` at `offset`. */
function seedRowIdInto(
  seed: string,
  email: string,
  table: string,
  index: number,
  into: Uint8Array,
  offset: number,
): void {
  uuidv5(`${seed}:${email}:${table}:${index}`, NAMESPACE_BYTES, into, offset);
}

/** A 128-bit numeric seed for faker's Mersenne Twister, from any string. */
export function numericSeed(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4), digest.readUInt32BE(8), digest.readUInt32BE(12)];
}

/** A fresh Faker (en_US, then en) that shares no state with the module-level instance. */
export function createFaker(baseTime: Date): Faker {
  const FakerClass = enUsFaker.constructor as new (options: { locale: Faker['rawDefinitions'] }) => Faker;
  const faker = new FakerClass({ locale: enUsFaker.rawDefinitions });
  faker.setDefaultRefDate(baseTime);
  return faker;
}

/** Everything one table generator needs about the user it generates for. */
export interface TableContext {
  readonly faker: Faker;
  readonly seed: string;
  readonly user: SeedUser;
  readonly baseTime: Date;
  readonly table: string;
  /** Id of this table's `index`-th row for this user. */
  id(index: number): string;
  /** The same id as 16 bytes, written into `into` at `offset`. */
  idInto(index: number, into: Uint8Array, offset: number): void;
}

/**
 * Reseeds `faker` for one (user, table) stream and returns its context. One stream per pair means
 * that changing a volume shifts only that table's rows (and rows that point at them), never another
 * user's data.
 */
export function tableContext(
  faker: Faker,
  seed: string,
  user: SeedUser,
  table: string,
  baseTime: Date,
): TableContext {
  // NUL separators: "a"+"bc" and "ab"+"c" must not share a stream.
  faker.seed(numericSeed(`${seed}\u0000${user.email}\u0000${table}`));
  return {
    faker,
    seed,
    user,
    baseTime,
    table,
    id: (index) => seedRowId(seed, user.email, table, index),
    idInto: (index, into, offset) => seedRowIdInto(seed, user.email, table, index, into, offset),
  };
}

/**
 * The index `faker.helpers.arrayElement` picks from an array of `length` elements, with the same
 * draws (none for one element), so a generator can pick from a list it keeps only as indexes.
 */
export function pickIndex(faker: Faker, length: number): number {
  return length > 1 ? faker.number.int({ max: length - 1 }) : 0;
}

/** `days` days (fractional allowed) before `time`. */
export function daysBefore(time: Date, days: number): Date {
  return new Date(time.getTime() - days * DAY_MS);
}

/** `days` days after `time`. */
export function daysAfter(time: Date, days: number): Date {
  return new Date(time.getTime() + days * DAY_MS);
}

/** A random instant in [from, to], rounded to the second (as an app would store it). */
export function between(faker: Faker, from: Date, to: Date): Date {
  if (to.getTime() <= from.getTime()) return new Date(from.getTime());
  const ms = faker.number.int({ min: from.getTime(), max: to.getTime() });
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** `YYYY-MM-DD` (UTC) for `date` columns; a string so no time-zone conversion can shift the day. */
export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * The largest whole number of cents whose amount (`cents / 100` as a JS number) is ≤ `bound`.
 * Money is generated as integer cents so values have exactly two decimals and never exceed a limit.
 */
export function maxCents(bound: number): number {
  let cents = Math.max(0, Math.floor(bound * 100));
  // bound * 100 is inexact (0.29 * 100 = 28.999…); step to the exact answer.
  while ((cents + 1) / 100 <= bound) cents++;
  while (cents > 0 && cents / 100 > bound) cents--;
  return cents;
}

/** A random amount in [min, max] dollars with two decimals (min and max clamped to whole cents). */
export function amountBetween(faker: Faker, min: number, max: number): number {
  const hi = maxCents(max);
  const lo = Math.min(hi, Math.max(0, Math.ceil(min * 100)));
  return faker.number.int({ min: lo, max: hi }) / 100;
}

/** Lower-case ASCII letters and digits only ("José O'Brien" → "joseobrien"), for emails and domains. */
export function asciiSlug(text: string, separator = ''): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .replace(/ /g, separator);
}
