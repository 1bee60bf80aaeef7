/**
 * Opportunities, deals (one per closed-won opportunity) and deal notes of one user.
 */
import type { Faker } from '@faker-js/faker';
import type { ContactInfo, OrgInfo } from './accounts.js';
import { fillTemplate } from './catalog.js';
import { amountBetween, between, daysAfter, daysBefore, isoDate, type TableContext } from './context.js';
import { DEAL_NOTES, OPPORTUNITY_DESCRIPTIONS, OPPORTUNITY_TOPICS, PRODUCT_LINES } from './texts.js';
import type { OpportunityOptions, SeedRow } from './types.js';

/** Stage names with fixed meaning; other stages are "open". */
export const WON_STAGE = 'closed_won';
export const LOST_STAGE = 'closed_lost';

/** The schema's opportunity categories, for variety around the configured default. */
const CATEGORIES = ['new_business', 'upsell', 'renewal', 'sample'] as const;

/** Typical deal ceiling: most food-service programs are well below the configured maximum. */
const TYPICAL_MAX_AMOUNT = 150_000;

/** What later tables need to know about an opportunity. */
export interface OpportunityInfo {
  readonly id: string;
  readonly organizationId: string;
  readonly contactIds: readonly string[];
  readonly name: string;
  readonly stage: string;
  readonly amount: number;
  readonly createdAt: Date;
}

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

/** Generates `count` opportunities over the user's organizations and their contacts. */
export function generateOpportunities(
  ctx: TableContext,
  count: number,
  opts: OpportunityOptions,
  orgs: readonly OrgInfo[],
  contactsByOrg: ReadonlyMap<string, readonly ContactInfo[]>,
): { rows: SeedRow[]; infos: OpportunityInfo[] } {
  const { faker, baseTime, user } = ctx;
  const rows: SeedRow[] = [];
  const infos: OpportunityInfo[] = [];
  const stages = stagePlan(faker, opts.stages, count);
  const otherCategories = CATEGORIES.filter((c) => c !== opts.defaultCategory);
  for (let i = 0; i < count; i++) {
    const id = ctx.id(i);
    const org = faker.helpers.arrayElement(orgs);
    const stage = stages[i] ?? opts.stages[0] ?? 'new_lead';
    const orgContacts = contactsByOrg.get(org.id) ?? [];
    // Opportunity #6 has no contacts: the empty array '{}' must survive COPY and sync.
    const contactIds =
      i % 20 === 5 || orgContacts.length === 0
        ? []
        : faker.helpers
            .arrayElements(orgContacts, { min: 1, max: Math.min(3, orgContacts.length) })
            .map((c) => c.id);
    const product = faker.helpers.arrayElement(PRODUCT_LINES);
    const topic = fillTemplate(faker.helpers.arrayElement(OPPORTUNITY_TOPICS), {
      product: product.replace(/(^|[\s-])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase()),
    });
    const name = `${org.name} — ${topic}`;
    const amount = amountFor(faker, opts.maxAmount);
    const closed = stage === WON_STAGE || stage === LOST_STAGE;
    const createdFrom =
      org.createdAt.getTime() > daysBefore(baseTime, 365).getTime()
        ? org.createdAt
        : daysBefore(baseTime, 365);
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
    rows.push({
      id,
      name,
      organization_id: org.id,
      contact_ids: contactIds,
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
    });
    infos.push({ id, organizationId: org.id, contactIds, name, stage, amount, createdAt });
  }
  return { rows, infos };
}

/** A deal for every closed-won opportunity, with the opportunity's amount. */
export function generateDeals(
  ctx: TableContext,
  opportunities: readonly OpportunityInfo[],
): { rows: SeedRow[]; closedAt: Date[] } {
  const { faker, baseTime, user } = ctx;
  const rows: SeedRow[] = [];
  const closedAt: Date[] = [];
  for (const opp of opportunities) {
    if (opp.stage !== WON_STAGE) continue;
    const closed = between(faker, opp.createdAt, baseTime);
    rows.push({
      id: ctx.id(rows.length),
      opportunity_id: opp.id,
      organization_id: opp.organizationId,
      name: opp.name,
      amount: opp.amount,
      closed_at: closed,
      sales_id: user.id,
      created_at: closed,
      updated_at: between(faker, closed, baseTime),
    });
    closedAt.push(closed);
  }
  return { rows, closedAt };
}

/** One or two notes per deal. */
export function generateDealNotes(
  ctx: TableContext,
  deals: readonly SeedRow[],
  closedAt: readonly Date[],
): SeedRow[] {
  const { faker, baseTime, user } = ctx;
  const rows: SeedRow[] = [];
  deals.forEach((deal, d) => {
    const closed = closedAt[d] ?? baseTime;
    const notes = faker.number.int({ min: 1, max: 2 });
    for (let n = 0; n < notes; n++) {
      const date = between(faker, closed, baseTime);
      rows.push({
        id: ctx.id(rows.length),
        deal_id: deal.id,
        text: fillTemplate(faker.helpers.arrayElement(DEAL_NOTES), {
          product: faker.helpers.arrayElement(PRODUCT_LINES),
        }),
        date,
        sales_id: user.id,
        created_at: date,
        updated_at: date,
      });
    }
  });
  return rows;
}
