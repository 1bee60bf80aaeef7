/**
 * Sentence templates for notes, activities, tasks and opportunities. `{product}`, `{org}`, `{first}`
 * and friends are filled by the generators. A few templates are deliberately awkward for COPY and
 * CSV (newlines, a tab, backslashes, quotes, commas): real notes contain them, and the sync and
 * load paths must carry them intact.
 */

/** Product lines pitched in opportunities, activities and notes. */
export const PRODUCT_LINES: readonly string[] = [
  'chicken breast',
  'Angus burger patties',
  'fresh-cut produce',
  'shredded mozzarella',
  'frozen fries',
  'plant-based protein',
  'Gulf shrimp',
  'compostable to-go containers',
  'cold brew concentrate',
  'whole-grain breading',
  'Greek yogurt parfaits',
  'artisan bread',
];

/** Opportunity name patterns: `{org} — {what}`. */
export const OPPORTUNITY_TOPICS: readonly string[] = [
  'Fall Menu {product} Program',
  '{product} Conversion',
  'Q1 {product} Contract',
  'Catering Line Expansion',
  '{product} Line Trial',
  'Annual {product} Bid',
  'Menu Refresh: Protein & Sides',
  'Sustainability Packaging Switch',
];

/** Opportunity descriptions; null and '' are also generated (see pipeline.ts). */
export const OPPORTUNITY_DESCRIPTIONS: readonly string[] = [
  'Currently buying {product} from a broadline competitor; wants better pricing and case-level consistency.',
  'Chef wants to cut prep labor. Pitching pre-portioned {product}, 6-week trial across {units} units.',
  'GPO contract renews next quarter; we need samples approved before the bid opens.',
  'Looking for a local-sourcing story for the new menu.\nDecision by committee (chef, F&B, purchasing).',
];

/** Activity subjects per activity type. */
export const ACTIVITY_SUBJECTS: Readonly<Record<string, readonly string[]>> = {
  call: [
    'Intro call with {first}',
    'Pricing follow-up call',
    'Call re: delivery schedule',
    'Check-in on {product} trial',
  ],
  email: [
    'Sent spec sheets for {product}',
    'Emailed revised quote',
    'Shared case study',
    'Order guide update',
  ],
  meeting: ['Menu planning meeting', 'Quarterly business review', 'Meeting with purchasing committee'],
  sample_visit: ['Sample drop: {product}', 'Kitchen visit with samples', 'Cut test with chef {first}'],
  demo: ['Demo: {product} prep & yield', 'Back-of-house equipment demo', 'Tasting demo for staff'],
  follow_up: ['Follow up on samples', 'Follow up: contract paperwork', 'Follow up after tasting'],
};

/** Activity bodies; some are multi-line. */
export const ACTIVITY_BODIES: readonly string[] = [
  'Discussed current volumes (~{cases} cases/week) and delivery windows.',
  'Chef liked the {product}; wants pricing at 2 drops/week.\nNext step: send a formal quote.',
  'Left samples with the kitchen manager. {first} will taste with the team on Friday.',
  'Talked through substitutions during the shortage.\n- Option A: switch pack size\n- Option B: alternate brand',
  'No answer, left voicemail. Will try again Tuesday.',
  'Reviewed yield: 92% vs. 85% on current product. "Best we\'ve tried," per {first}.',
];

/** Contact note texts; some multi-line, one with a tab, one with backslashes (and a `\N` inside a path). */
export const CONTACT_NOTES: readonly string[] = [
  'Prefers email over calls. Orders on Mondays for Wednesday delivery.',
  '{first} is moving the menu toward scratch cooking; interested in {product}.',
  'Met at the state restaurant association show.\nAsked for allergen sheets and a price list.',
  'Pricing comparison:\titem\tours\ttheirs\n\t{product}\t$41.50\t$44.25',
  'Saved the signed credit application to S:\\Sales\\New Accounts\\{org}.pdf',
  'Unhappy with last delivery (2 cases short, 1 damaged). Issued credit; follow up next week.',
  'Budget resets in July. Says: "Call me after the 4th, not before."',
  'Wants a rebate deal through the GPO, not off-invoice pricing.',
];

/** Deal note texts for closed-won opportunities. */
export const DEAL_NOTES: readonly string[] = [
  'Signed! First order scheduled for next week.',
  'Contract signed for 12 months, net-30 terms.\nOrder guide loaded in the ordering portal.',
  'Won against the incumbent on price and fill rate.',
  'Kickoff call done; chef training on {product} booked.',
];

/** Task titles per task type. */
export const TASK_TITLES: Readonly<Record<string, readonly string[]>> = {
  call: ['Call {first} about pricing', 'Call to confirm delivery window'],
  email: ['Email spec sheets to {first}', 'Send revised quote'],
  meeting: ['Schedule menu review with {first}', 'Book QBR'],
  follow_up: [
    'Follow up on {product} samples',
    'Check in after first order',
    'Follow up on credit application',
  ],
  sample_delivery: ['Deliver {product} samples', 'Drop off sample kit for tasting'],
};

/** Task descriptions; null and '' are also generated. */
export const TASK_DESCRIPTIONS: readonly string[] = [
  'Bring the spec sheet and the nutrition panel.',
  'Confirm case count, pack size and delivery day.\nCC the chef.',
  'Ask about the GPO tier and rebate timing.',
];

/** Organization descriptions; null and '' are also generated. */
export const ORG_DESCRIPTIONS: readonly string[] = [
  '{units} locations; central purchasing, chef-driven menu changes twice a year.',
  'Scratch kitchen with high-volume weekend brunch. Very price-aware, loyal once won.',
  'Serves ~{cases} covers a day; lunch service is the volume driver.',
  'Family-owned since 1987, "quality first" — will pay for consistency.',
];
