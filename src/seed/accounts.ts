/**
 * Organizations and contacts of one user.
 */
import {
  CITIES,
  CONTACT_TAG_IDS,
  FIRST_NAMES,
  LAST_NAMES,
  NAME_WORDS,
  NON_ASCII_NAMES,
  ORG_SIZE,
  ORG_TAG_IDS,
  PARTNER_NAME_TEMPLATES,
  PLACES,
  SEGMENTS,
  SEGMENT_NAME_TEMPLATES,
  STREETS,
  STREET_SUFFIXES,
  TITLES_BY_KIND,
  fillTemplate,
  type City,
} from './catalog.js';
import { amountBetween, asciiSlug, between, daysBefore, pickIndex, type TableContext } from './context.js';
import type { ContactFacts, OrgFacts } from './facts.js';
import { ORG_DESCRIPTIONS } from './texts.js';
import type { SeedRow } from './types.js';

const DISTRIBUTOR_KIND = SEGMENTS.length;
const PRINCIPAL_KIND = SEGMENTS.length + 1;

// Words that make domains long without making them distinctive.
const DOMAIN_STOPWORDS = new Set([
  'the',
  'and',
  'of',
  'co',
  'inc',
  'services',
  'nutrition',
  'dining',
  'food',
]);

/**
 * A plausible domain for an organization of `kind`: the first three distinctive words of its name
 * ("Detroit Regional Hospital Food Services" → detroitregionalhospital.org).
 */
function domainFor(name: string, kind: number): string {
  const institutional = kind === 3 || kind === 4;
  const parts = asciiSlug(name, ' ')
    .split(' ')
    .filter((w) => w !== '' && !DOMAIN_STOPWORDS.has(w));
  return `${parts.slice(0, 3).join('') || 'example'}.${institutional ? 'org' : 'com'}`;
}

/**
 * A phone number in the city's area code. The exchange is 555 and the line 0100–0199: the range
 * reserved for fictional use, so seeded numbers never ring a real person.
 */
export function fictionalPhone(ctx: TableContext, city: City): string {
  return `(${city.areaCode}) 555-01${String(ctx.faker.number.int({ min: 0, max: 99 })).padStart(2, '0')}`;
}

function orgName(ctx: TableContext, kind: number, city: string): string {
  const { faker } = ctx;
  const templates =
    kind === DISTRIBUTOR_KIND
      ? PARTNER_NAME_TEMPLATES.distributor
      : kind === PRINCIPAL_KIND
        ? PARTNER_NAME_TEMPLATES.principal
        : (SEGMENT_NAME_TEMPLATES[kind] ?? []);
  const [noun, noun2] = faker.helpers.arrayElements(NAME_WORDS.NOUNS, 2);
  const surname = faker.helpers.arrayElement(LAST_NAMES);
  return fillTemplate(faker.helpers.arrayElement(templates), {
    place: faker.helpers.arrayElement(PLACES),
    surname,
    city,
    noun: noun ?? 'Salt',
    noun2: noun2 ?? 'Ember',
    saint: faker.helpers.arrayElement(NAME_WORDS.SAINTS),
    company: `${surname} ${faker.helpers.arrayElement(NAME_WORDS.COMPANY_SUFFIXES)}`,
  });
}

/** Fills `{units}` / `{cases}` in descriptions with plausible numbers. */
function fillNumbers(ctx: TableContext, template: string, extra: Record<string, string> = {}): string {
  return fillTemplate(template, {
    units: String(ctx.faker.number.int({ min: 2, max: 40 })),
    cases: String(ctx.faker.number.int({ min: 15, max: 400 })),
    ...extra,
  });
}

/** Generates `count` organizations for the context's user, recording what later tables need in `facts`. */
export function* generateOrganizations(
  ctx: TableContext,
  count: number,
  facts: OrgFacts,
): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const usedNames = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = facts.ids.record(ctx, i);
    const kind = faker.helpers.weightedArrayElement([
      { weight: 86, value: -1 },
      { weight: 8, value: DISTRIBUTOR_KIND },
      { weight: 6, value: PRINCIPAL_KIND },
    ]);
    const realKind = kind === -1 ? faker.number.int({ min: 0, max: SEGMENTS.length - 1 }) : kind;
    const place = faker.helpers.arrayElement(CITIES);
    const { city, state } = place;
    let name = orgName(ctx, realKind, city);
    // Names are unique per user, as a real book of business would be.
    if (usedNames.has(name)) name = `${name} – ${city}`;
    if (usedNames.has(name)) name = `${name} #${i + 1}`;
    usedNames.add(name);
    const domain = domainFor(name, realKind);
    const size = ORG_SIZE[Math.min(realKind, ORG_SIZE.length - 1)] ?? [1e6, 1e7, 10, 100];
    const direction = faker.helpers.arrayElement(['', '', '', 'N ', 'S ', 'E ', 'W ']);
    const street = `${faker.number.int({ min: 100, max: 9899 })} ${direction}${faker.helpers.arrayElement(STREETS)} ${faker.helpers.arrayElement(STREET_SUFFIXES)}`;
    const createdAt = between(faker, daysBefore(baseTime, 730), daysBefore(baseTime, 14));
    const organizationType =
      realKind === DISTRIBUTOR_KIND
        ? 'distributor'
        : realKind === PRINCIPAL_KIND
          ? 'principal'
          : faker.helpers.weightedArrayElement([
              { weight: 45, value: 'customer' },
              { weight: 55, value: 'prospect' },
            ]);
    const links: string[] = [];
    if (faker.datatype.boolean(0.6)) links.push(`https://www.linkedin.com/company/${asciiSlug(name, '-')}`);
    if (faker.datatype.boolean(0.3)) links.push(`https://www.${domain}/menu`);
    const descriptionRoll = faker.number.int({ min: 0, max: 99 });
    // Org #3 of every user has an empty (not null) description: '' and NULL must both survive sync.
    const description =
      i === 2
        ? ''
        : descriptionRoll < 25
          ? null
          : fillNumbers(ctx, faker.helpers.arrayElement(ORG_DESCRIPTIONS));
    facts.add(i, { name, kind: realKind, city: place, createdAt });
    yield {
      id,
      name,
      segment_id: realKind < SEGMENTS.length ? realKind + 1 : null,
      priority: faker.helpers.weightedArrayElement([
        { weight: 15, value: 'A' },
        { weight: 30, value: 'B' },
        { weight: 40, value: 'C' },
        { weight: 15, value: 'D' },
      ]),
      organization_type: organizationType,
      website: faker.datatype.boolean(0.88) ? `https://www.${domain}` : null,
      phone: fictionalPhone(ctx, place),
      address: faker.datatype.boolean(0.15)
        ? `${street}, Suite ${faker.number.int({ min: 100, max: 950 })}`
        : street,
      city,
      state,
      postal_code: `${place.zipPrefix}${String(faker.number.int({ min: 1, max: 99 })).padStart(2, '0')}`,
      annual_revenue: amountBetween(faker, size[0], size[1]),
      employee_count: faker.number.int({ min: size[2], max: size[3] }),
      tag_ids: faker.helpers.arrayElements(ORG_TAG_IDS, { min: 0, max: 3 }).sort((a, b) => a - b),
      context_links: links,
      description,
      sales_id: user.id,
      created_at: createdAt,
      updated_at: between(faker, createdAt, baseTime),
    };
  }
}

/** A random name, except fixed slots that guarantee UTF-8 and apostrophes in every data set with enough contacts. */
function contactName(ctx: TableContext, i: number): readonly [first: string, last: string] {
  const first = ctx.faker.helpers.arrayElement(FIRST_NAMES);
  const last = ctx.faker.helpers.arrayElement(LAST_NAMES);
  if (i % 25 === 7) return NON_ASCII_NAMES[Math.floor(i / 25) % NON_ASCII_NAMES.length] ?? ['José', 'Peña'];
  if (i % 25 === 3) return [first, i % 50 === 3 ? "O'Brien" : "D'Angelo"];
  return [first, last];
}

/**
 * A direct line in the organization's area code, some with an extension. Contact #12 (of every 25)
 * has an empty phone: '' means "known to have none", NULL "unknown", and sync must keep them apart.
 */
function contactPhone(ctx: TableContext, i: number, city: City | undefined): string | null {
  const roll = ctx.faker.number.int({ min: 0, max: 99 });
  if (i % 25 === 11) return '';
  if (roll < 10) return null;
  const phone = fictionalPhone(ctx, city ?? ctx.faker.helpers.arrayElement(CITIES));
  return roll >= 85 ? `${phone} x${ctx.faker.number.int({ min: 100, max: 499 })}` : phone;
}

/** Generates `count` contacts, spread so that every organization gets one before any gets two. */
export function* generateContacts(
  ctx: TableContext,
  count: number,
  orgs: OrgFacts,
  facts: ContactFacts,
): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const usedEmails = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = facts.ids.record(ctx, i);
    const org = orgs.length === 0 ? -1 : i < orgs.length ? i : pickIndex(faker, orgs.length);
    const orgId = org < 0 ? null : orgs.ids.get(org);
    const [firstName, lastName] = contactName(ctx, i);
    // Derived again from the name rather than kept: a million domains would cost ~100 MB.
    const domain =
      org < 0
        ? faker.helpers.arrayElement(['gmail.com', 'outlook.com', 'yahoo.com'])
        : domainFor(orgs.names.get(org), orgs.kinds[org]!);
    let local = `${asciiSlug(firstName)}.${asciiSlug(lastName)}`;
    for (let n = 2; usedEmails.has(`${local}@${domain}`); n++)
      local = `${asciiSlug(firstName)}.${asciiSlug(lastName)}${n}`;
    usedEmails.add(`${local}@${domain}`);
    const titles = TITLES_BY_KIND[org < 0 ? 1 : orgs.kinds[org]!] ?? [];
    const orgCreated = org < 0 ? daysBefore(baseTime, 730) : new Date(orgs.createdAt[org]!);
    const firstSeen = between(faker, orgCreated, daysBefore(baseTime, 1));
    const lastSeen = between(faker, firstSeen, baseTime);
    facts.orgs[i] = org;
    facts.firstNames[i] = firstName;
    facts.createdAt[i] = firstSeen.getTime();
    yield {
      id,
      first_name: firstName,
      last_name: lastName,
      title: faker.datatype.boolean(0.95) ? faker.helpers.arrayElement(titles) : null,
      organization_id: orgId,
      email: faker.datatype.boolean(0.95) ? `${local}@${domain}` : null,
      phone: contactPhone(ctx, i, org < 0 ? undefined : orgs.city(org)),
      linkedin_url: faker.datatype.boolean(0.5)
        ? `https://www.linkedin.com/in/${asciiSlug(`${firstName} ${lastName}`, '-')}-${faker.string.alphanumeric({ length: 6, casing: 'lower' })}`
        : null,
      tag_ids: faker.helpers.arrayElements(CONTACT_TAG_IDS, { min: 0, max: 2 }).sort((a, b) => a - b),
      first_seen: firstSeen,
      last_seen: lastSeen,
      sales_id: user.id,
      created_at: firstSeen,
      updated_at: between(faker, firstSeen, baseTime),
    };
  }
}
