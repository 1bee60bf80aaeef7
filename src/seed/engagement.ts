/**
 * Activities, contact notes and tasks of one user: the day-to-day trail on top of the accounts and
 * the pipeline. Every reference points at the same user's rows.
 */
import type { Faker } from '@faker-js/faker';
import { fillTemplate } from './catalog.js';
import { between, daysAfter, daysBefore, isoDate, pickIndex, type TableContext } from './context.js';
import type { ContactFacts, OpportunityFacts, OrgFacts } from './facts.js';
import {
  ACTIVITY_BODIES,
  ACTIVITY_SUBJECTS,
  CONTACT_NOTES,
  PRODUCT_LINES,
  TASK_DESCRIPTIONS,
  TASK_TITLES,
} from './texts.js';
import type { SeedRow } from './types.js';

/** One user's accounts and pipeline, as the three generators see them. */
export interface UserGraph {
  readonly orgs: OrgFacts;
  readonly contacts: ContactFacts;
  /** Absent for contact notes, which run before the opportunities. */
  readonly opportunities?: OpportunityFacts;
}

const ACTIVITY_TYPES = [
  { weight: 30, value: 'call' },
  { weight: 25, value: 'email' },
  { weight: 12, value: 'meeting' },
  { weight: 13, value: 'sample_visit' },
  { weight: 8, value: 'demo' },
  { weight: 12, value: 'follow_up' },
];

/** Minutes per activity type; email has no duration. */
const DURATION: Readonly<Record<string, readonly [number, number] | null>> = {
  call: [5, 30],
  email: null,
  meeting: [30, 90],
  sample_visit: [20, 60],
  demo: [30, 120],
  follow_up: [5, 15],
};

const TASK_TYPES = [
  { weight: 20, value: 'call' },
  { weight: 20, value: 'email' },
  { weight: 10, value: 'meeting' },
  { weight: 35, value: 'follow_up' },
  { weight: 15, value: 'sample_delivery' },
];

function later(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}

/**
 * Template `i` for the first rows, random afterwards: every template, including the awkward
 * multi-line/tab/backslash ones, appears in any data set with enough rows.
 */
function pickTemplate(faker: Faker, templates: readonly string[], i: number): string {
  return i < templates.length ? (templates[i] ?? '') : faker.helpers.arrayElement(templates);
}

function textValues(faker: Faker, first: string, org: string): Record<string, string> {
  return {
    first,
    org,
    product: faker.helpers.arrayElement(PRODUCT_LINES),
    cases: String(faker.number.int({ min: 10, max: 300 })),
  };
}

/** Generates `count` activities (calls, sample visits, demos…) over the user's accounts. */
export function* generateActivities(ctx: TableContext, count: number, graph: UserGraph): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const { orgs, contacts, opportunities } = graph;
  const contactsByOrg = contacts.byOrg();
  const oppsByOrg = opportunities?.byOrg();
  for (let i = 0; i < count; i++) {
    const type = faker.helpers.weightedArrayElement(ACTIVITY_TYPES);
    const org = orgs.length > 0 ? pickIndex(faker, orgs.length) : -1;
    // Without organizations, every contact of the user is a candidate.
    const orgContacts = org >= 0 ? contactsByOrg.of(org) : undefined;
    const candidates = orgContacts ? orgContacts.length : contacts.length;
    const pick = candidates > 0 && faker.datatype.boolean(0.9) ? pickIndex(faker, candidates) : -1;
    const contact = pick < 0 ? -1 : orgContacts ? orgContacts[pick]! : pick;
    const orgOpps = org >= 0 && oppsByOrg ? oppsByOrg.of(org) : undefined;
    const opp =
      orgOpps && orgOpps.length > 0 && faker.datatype.boolean(0.5)
        ? orgOpps[pickIndex(faker, orgOpps.length)]!
        : -1;
    const orgCreated = org >= 0 ? new Date(orgs.createdAt[org]!) : daysBefore(baseTime, 180);
    const occurredAt = between(faker, later(orgCreated, daysBefore(baseTime, 180)), baseTime);
    const values = textValues(
      faker,
      contact >= 0 ? contacts.firstNames[contact]! : 'the chef',
      org >= 0 ? orgs.names.get(org) : '',
    );
    const duration = DURATION[type];
    const bodyRoll = faker.number.int({ min: 0, max: 99 });
    yield {
      id: ctx.id(i),
      type,
      subject: fillTemplate(faker.helpers.arrayElement(ACTIVITY_SUBJECTS[type] ?? ['Touchpoint']), values),
      body:
        i % 50 === 13
          ? ''
          : bodyRoll < 20
            ? null
            : fillTemplate(pickTemplate(faker, ACTIVITY_BODIES, i), values),
      occurred_at: occurredAt,
      duration_minutes: duration ? faker.number.int({ min: duration[0], max: duration[1] }) : null,
      organization_id: org >= 0 ? orgs.ids.get(org) : null,
      contact_id: contact >= 0 ? contacts.ids.get(contact) : null,
      opportunity_id: opp >= 0 && opportunities ? opportunities.ids.get(opp) : null,
      sales_id: user.id,
      created_at: occurredAt,
      updated_at: occurredAt,
    };
  }
}

/** Generates `count` notes on the user's contacts (each contact once before any twice). */
export function* generateContactNotes(
  ctx: TableContext,
  count: number,
  graph: UserGraph,
): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const { contacts, orgs } = graph;
  if (count > 0 && contacts.length === 0) throw new RangeError('contact notes need at least one contact');
  for (let i = 0; i < count; i++) {
    const contact = i < contacts.length ? i : pickIndex(faker, contacts.length);
    const date = between(faker, new Date(contacts.createdAt[contact]!), baseTime);
    const orgIndex = contacts.orgs[contact]!;
    const org = orgIndex >= 0 ? orgs.names.get(orgIndex) : 'personal';
    const attachments = faker.datatype.boolean(0.15)
      ? [
          {
            name: faker.helpers.arrayElement([
              'Price list Q4.pdf',
              'Crème brûlée spec sheet.pdf',
              'Order guide.xlsx',
            ]),
            type: 'application/octet-stream',
            size_bytes: faker.number.int({ min: 20_000, max: 2_000_000 }),
            url: `https://files.example.com/notes/${ctx.id(i)}`,
          },
        ]
      : [];
    yield {
      id: ctx.id(i),
      contact_id: contacts.ids.get(contact),
      text: fillTemplate(
        pickTemplate(faker, CONTACT_NOTES, i),
        textValues(faker, contacts.firstNames[contact]!, org),
      ),
      date,
      status: faker.helpers.weightedArrayElement([
        { weight: 20, value: null },
        { weight: 25, value: 'cold' },
        { weight: 30, value: 'warm' },
        { weight: 15, value: 'hot' },
        { weight: 10, value: 'in-contract' },
      ]),
      attachments,
      sales_id: user.id,
      created_at: date,
      updated_at: date,
    };
  }
}

/** Generates `count` tasks on the user's contacts, linked to one of the contact's opportunities when there is one. */
export function* generateTasks(ctx: TableContext, count: number, graph: UserGraph): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const { contacts, opportunities } = graph;
  const oppsByContact = opportunities?.byContact();
  for (let i = 0; i < count; i++) {
    const contact = contacts.length > 0 ? pickIndex(faker, contacts.length) : -1;
    const opps = contact >= 0 && oppsByContact ? oppsByContact.of(contact) : undefined;
    const opp =
      opps && opps.length > 0 && faker.datatype.boolean(0.7) ? opps[pickIndex(faker, opps.length)]! : -1;
    const type = faker.helpers.weightedArrayElement(TASK_TYPES);
    const contactCreated = contact >= 0 ? new Date(contacts.createdAt[contact]!) : daysBefore(baseTime, 60);
    const createdAt = between(
      faker,
      later(contactCreated, daysBefore(baseTime, 60)),
      daysBefore(baseTime, 1),
    );
    const due = between(faker, daysAfter(createdAt, 1), daysAfter(baseTime, 30));
    const done =
      due.getTime() < baseTime.getTime() ? faker.datatype.boolean(0.7) : faker.datatype.boolean(0.1);
    const doneAt = done ? between(faker, createdAt, baseTime) : null;
    const values = textValues(faker, contact >= 0 ? contacts.firstNames[contact]! : 'buyer', '');
    const descriptionRoll = faker.number.int({ min: 0, max: 99 });
    yield {
      id: ctx.id(i),
      title: fillTemplate(faker.helpers.arrayElement(TASK_TITLES[type] ?? ['Follow up']), values),
      description:
        i % 25 === 4
          ? ''
          : descriptionRoll < 40
            ? null
            : fillTemplate(faker.helpers.arrayElement(TASK_DESCRIPTIONS), values),
      type,
      priority: faker.helpers.weightedArrayElement([
        { weight: 25, value: 'low' },
        { weight: 50, value: 'medium' },
        { weight: 25, value: 'high' },
      ]),
      due_date: isoDate(due),
      done_at: doneAt,
      contact_id: contact >= 0 ? contacts.ids.get(contact) : null,
      opportunity_id: opp >= 0 && opportunities ? opportunities.ids.get(opp) : null,
      sales_id: user.id,
      created_at: createdAt,
      updated_at: doneAt ?? createdAt,
    };
  }
}
