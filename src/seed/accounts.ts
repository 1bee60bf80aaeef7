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
} from './catalog.js';
import { amountBetween, asciiSlug, between, daysBefore, type TableContext } from './context.js';
import { ORG_DESCRIPTIONS } from './texts.js';
import type { SeedRow } from './types.js';

/** What later tables need to know about an organization. */
export interface OrgInfo {
  readonly id: string;
  readonly name: string;
  /** Index into TITLES_BY_KIND: a segment index, or SEGMENTS.length (+1) for distributors (principals). */
  readonly kind: number;
  readonly domain: string;
  readonly createdAt: Date;
}

/** What later tables need to know about a contact. */
export interface ContactInfo {
  readonly id: string;
  readonly organizationId: string | null;
  readonly firstName: string;
  readonly createdAt: Date;
}

const DISTRIBUTOR_KIND = SEGMENTS.length;
const PRINCIPAL_KIND = SEGMENTS.length + 1;

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

/** Generates `count` organizations for the context's user. */
export function generateOrganizations(
  ctx: TableContext,
  count: number,
): { rows: SeedRow[]; infos: OrgInfo[] } {
  const { faker, baseTime, user } = ctx;
  const rows: SeedRow[] = [];
  const infos: OrgInfo[] = [];
  const usedNames = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = ctx.id(i);
    const kind = faker.helpers.weightedArrayElement([
      { weight: 86, value: -1 },
      { weight: 8, value: DISTRIBUTOR_KIND },
      { weight: 6, value: PRINCIPAL_KIND },
    ]);
    const realKind = kind === -1 ? faker.number.int({ min: 0, max: SEGMENTS.length - 1 }) : kind;
    const [city, state] = faker.helpers.arrayElement(CITIES);
    let name = orgName(ctx, realKind, city);
    // Names are unique per user, as a real book of business would be.
    if (usedNames.has(name)) name = `${name} – ${city}`;
    if (usedNames.has(name)) name = `${name} #${i + 1}`;
    usedNames.add(name);
    const institutional = realKind === 3 || realKind === 4;
    const domain = `${asciiSlug(name).slice(0, 40)}.${institutional ? 'org' : 'com'}`;
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
    rows.push({
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
      phone: faker.phone.number({ style: 'national' }),
      address: faker.datatype.boolean(0.15)
        ? `${street}, Suite ${faker.number.int({ min: 100, max: 950 })}`
        : street,
      city,
      state,
      postal_code: faker.location.zipCode({ state }),
      annual_revenue: amountBetween(faker, size[0], size[1]),
      employee_count: faker.number.int({ min: size[2], max: size[3] }),
      tag_ids: faker.helpers.arrayElements(ORG_TAG_IDS, { min: 0, max: 3 }).sort((a, b) => a - b),
      context_links: links,
      description,
      sales_id: user.id,
      created_at: createdAt,
      updated_at: between(faker, createdAt, baseTime),
    });
    infos.push({ id, name, kind: realKind, domain, createdAt });
  }
  return { rows, infos };
}

/** Generates `count` contacts, spread so that every organization gets one before any gets two. */
export function generateContacts(
  ctx: TableContext,
  count: number,
  orgs: readonly OrgInfo[],
): { rows: SeedRow[]; infos: ContactInfo[] } {
  const { faker, baseTime, user } = ctx;
  const rows: SeedRow[] = [];
  const infos: ContactInfo[] = [];
  const usedEmails = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = ctx.id(i);
    const org = orgs.length === 0 ? undefined : i < orgs.length ? orgs[i] : faker.helpers.arrayElement(orgs);
    let firstName = faker.helpers.arrayElement(FIRST_NAMES);
    let lastName = faker.helpers.arrayElement(LAST_NAMES);
    // Fixed slots guarantee UTF-8 and apostrophes in every data set with enough contacts.
    if (i % 25 === 7)
      [firstName, lastName] = NON_ASCII_NAMES[Math.floor(i / 25) % NON_ASCII_NAMES.length] ?? [
        'José',
        'Peña',
      ];
    if (i % 25 === 3) lastName = i % 50 === 3 ? "O'Brien" : "D'Angelo";
    const domain = org?.domain ?? faker.helpers.arrayElement(['gmail.com', 'outlook.com', 'yahoo.com']);
    let local = `${asciiSlug(firstName)}.${asciiSlug(lastName)}`;
    for (let n = 2; usedEmails.has(`${local}@${domain}`); n++)
      local = `${asciiSlug(firstName)}.${asciiSlug(lastName)}${n}`;
    usedEmails.add(`${local}@${domain}`);
    const titles = TITLES_BY_KIND[org?.kind ?? 1] ?? [];
    const firstSeen = between(faker, org?.createdAt ?? daysBefore(baseTime, 730), daysBefore(baseTime, 1));
    const lastSeen = between(faker, firstSeen, baseTime);
    const phoneRoll = faker.number.int({ min: 0, max: 99 });
    rows.push({
      id,
      first_name: firstName,
      last_name: lastName,
      title: faker.datatype.boolean(0.95) ? faker.helpers.arrayElement(titles) : null,
      organization_id: org?.id ?? null,
      email: faker.datatype.boolean(0.95) ? `${local}@${domain}` : null,
      // Contact #12 has an empty phone: '' is "known to have none", NULL is "unknown".
      phone: i % 25 === 11 ? '' : phoneRoll < 10 ? null : faker.phone.number({ style: 'national' }),
      linkedin_url: faker.datatype.boolean(0.5)
        ? `https://www.linkedin.com/in/${asciiSlug(`${firstName} ${lastName}`, '-')}-${faker.string.alphanumeric({ length: 6, casing: 'lower' })}`
        : null,
      tag_ids: faker.helpers.arrayElements(CONTACT_TAG_IDS, { min: 0, max: 2 }).sort((a, b) => a - b),
      first_seen: firstSeen,
      last_seen: lastSeen,
      sales_id: user.id,
      created_at: firstSeen,
      updated_at: between(faker, firstSeen, baseTime),
    });
    infos.push({ id, organizationId: org?.id ?? null, firstName, createdAt: firstSeen });
  }
  return { rows, infos };
}
