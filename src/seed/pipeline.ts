/**
 * Opportunities, deals (one per closed-won opportunity) and deal notes of one user.
 */
import type { Faker } from '@faker-js/faker';
import { fillTemplate } from './catalog.js';
import {
  amountBetween,
  between,
  daysAfter,
  daysBefore,
  isoDate,
  pickIndex,
  type TableContext,
} from './context.js';
import type { ContactFacts, DealFacts, OpportunityFacts, OrgFacts } from './facts.js';
import { DEAL_NOTES, OPPORTUNITY_DESCRIPTIONS, OPPORTUNITY_TOPICS, PRODUCT_LINES } from './texts.js';
import type { OpportunityOptions, SeedRow } from './types.js';

/** Stage names with fixed meaning; other stages are "open". */
export const WON_STAGE = 'closed_won';
export const LOST_STAGE = 'closed_lost';

/** The schema's opportunity categories, for variety around the configured default. */
const CATEGORIES = ['new_business', 'upsell', 'renewal', 'sample'] as const;

/** Typical deal ceiling: most food-service programs are well below the configured maximum. */
const TYPICAL_MAX_AMOUNT = 150_000;

/**
 * The stage of each of `count` opportunities: every stage once (when count allows), the rest drawn
 * with early stages more likely, then shuffled so stage does not follow the index.
 */
function stagePlan(faker: Faker, stages: readonly string[], count: number): string[] {
  const plan: string[] = stages.slice(0, Math.min(count, stages.length));
  const weighted = stages.map((value, index) => ({
    value,
    // A funnel: weight falls from 1.0 at the first stage to 0.4 at the last.
    weight: stages.length === 1 ? 1 : 1 - (0.6 * index) / (stages.length - 1),
  }));
  while (plan.length < count) plan.push(faker.helpers.weightedArrayElement(weighted));
  return faker.helpers.shuffle(plan);
}

/** Won 100, lost 0; open stages at the default, nudged up (later stages) or down (earlier ones). */
function probabilityFor(faker: Faker, opts: OpportunityOptions, stage: string): number {
  if (stage === WON_STAGE) return 100;
  if (stage === LOST_STAGE) return 0;
  const open = opts.stages.filter((s) => s !== WON_STAGE && s !== LOST_STAGE);
  const position = open.length <= 1 ? 0.5 : open.indexOf(stage) / (open.length - 1);
  // A third sit exactly at the default, the way a CRM leaves an untouched field.
  if (faker.datatype.boolean(1 / 3)) return opts.defaultProbability;
  const nudged = Math.round(
    opts.defaultProbability + (position - 0.5) * 30 + faker.number.int({ min: -5, max: 5 }),
  );
  return Math.min(100, Math.max(0, nudged));
}

function amountFor(faker: Faker, maxAmount: number): number {
  const typical = Math.min(maxAmount, TYPICAL_MAX_AMOUNT);
  // One in ten is a large program, up to the configured maximum.
  if (faker.datatype.boolean(0.1)) return amountBetween(faker, typical, maxAmount);
  return amountBetween(faker, Math.min(2_500, typical), typical);
}

/**
 * Generates `count` opportunities over the user's organizations and their contacts, recording what
 * later tables need in `facts`.
 */
export function* generateOpportunities(
  ctx: TableContext,
  count: number,
  opts: OpportunityOptions,
  orgs: OrgFacts,
  contacts: ContactFacts,
  facts: OpportunityFacts,
): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const stages = stagePlan(faker, opts.stages, count);
  const otherCategories = CATEGORIES.filter((c) => c !== opts.defaultCategory);
  const contactsByOrg = contacts.byOrg();
  for (let i = 0; i < count; i++) {
    const id = facts.ids.record(ctx, i);
    const org = pickIndex(faker, orgs.length);
    const orgName = orgs.names.get(org);
    const orgCreatedAt = new Date(orgs.createdAt[org]!);
    const stage = stages[i] ?? opts.stages[0] ?? 'new_lead';
    const orgContacts = contactsByOrg.of(org);
    // Opportunity #6 has no contacts: the empty array '{}' must survive COPY and sync.
    const picked =
      i % 20 === 5 || orgContacts.length === 0
        ? []
        : faker.helpers.arrayElements(Array.from(orgContacts), {
            min: 1,
            max: Math.min(3, orgContacts.length),
          });
    const product = faker.helpers.arrayElement(PRODUCT_LINES);
    const topic = fillTemplate(faker.helpers.arrayElement(OPPORTUNITY_TOPICS), {
      product: product.replace(/(^|[\s-])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase()),
    });
    const name = `${orgName} — ${topic}`;
    const amount = amountFor(faker, opts.maxAmount);
    const closed = stage === WON_STAGE || stage === LOST_STAGE;
    const createdFrom =
      orgCreatedAt.getTime() > daysBefore(baseTime, 365).getTime() ? orgCreatedAt : daysBefore(baseTime, 365);
    const createdAt = between(faker, createdFrom, daysBefore(baseTime, 7));
    const closing = closed
      ? between(faker, createdAt, baseTime)
      : between(faker, daysAfter(baseTime, 7), daysAfter(baseTime, 120));
    const descriptionRoll = faker.number.int({ min: 0, max: 99 });
    const description =
      i % 20 === 9
        ? ''
        : descriptionRoll < 25
          ? null
          : fillTemplate(faker.helpers.arrayElement(OPPORTUNITY_DESCRIPTIONS), {
              product,
              units: String(faker.number.int({ min: 2, max: 30 })),
            });
    facts.add(i, { org, contacts: picked, name, won: stage === WON_STAGE, amount, createdAt });
    yield {
      id,
      name,
      organization_id: orgs.ids.get(org),
      contact_ids: picked.map((c) => contacts.ids.get(c)),
      stage,
      category:
        faker.datatype.boolean(0.6) || otherCategories.length === 0
          ? opts.defaultCategory
          : faker.helpers.arrayElement(otherCategories),
      amount,
      probability: probabilityFor(faker, opts, stage),
      expected_closing_date: faker.datatype.boolean(0.95) ? isoDate(closing) : null,
      description,
      sales_id: user.id,
      created_at: createdAt,
      updated_at: closed ? closing : between(faker, createdAt, baseTime),
    };
  }
}

/** A deal for every closed-won opportunity, with the opportunity's amount; recorded in `facts`. */
export function* generateDeals(
  ctx: TableContext,
  opps: OpportunityFacts,
  orgs: OrgFacts,
  facts: DealFacts,
): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const { won } = opps;
  for (let d = 0; d < opps.wonCount; d++) {
    const opp = won.indexes[d]!;
    const closed = between(faker, new Date(won.createdAt[d]!), baseTime);
    facts.closedAt[d] = closed.getTime();
    yield {
      id: facts.ids.record(ctx, d),
      opportunity_id: opps.ids.get(opp),
      organization_id: orgs.ids.get(opps.orgs[opp]!),
      name: won.names.get(d),
      amount: won.amounts[d]!,
      closed_at: closed,
      sales_id: user.id,
      created_at: closed,
      updated_at: between(faker, closed, baseTime),
    };
  }
}

/** One or two notes per deal. */
export function* generateDealNotes(ctx: TableContext, deals: DealFacts): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  let index = 0;
  for (let d = 0; d < deals.length; d++) {
    const closed = new Date(deals.closedAt[d]!);
    const dealId = deals.ids.get(d);
    const notes = faker.number.int({ min: 1, max: 2 });
    for (let n = 0; n < notes; n++) {
      const date = between(faker, closed, baseTime);
      yield {
        id: ctx.id(index++),
        deal_id: dealId,
        text: fillTemplate(faker.helpers.arrayElement(DEAL_NOTES), {
          product: faker.helpers.arrayElement(PRODUCT_LINES),
        }),
        date,
        sales_id: user.id,
        created_at: date,
        updated_at: date,
      };
    }
  }
}
