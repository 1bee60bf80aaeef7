/**
 * Fixed reference data and word lists for realistic food-service CRM rows. Curated lists rather
 * than faker's en_US names, whose surnames ("Kshlerin-Wuckert") do not look like customers.
 */

/**
 * Food-service segments; a segment's id is its 1-based position here. The order is part of the
 * seed's output: append, never reorder.
 */
export const SEGMENTS: readonly { readonly name: string; readonly description: string }[] = [
  { name: 'Fine Dining', description: 'Chef-driven, white-tablecloth restaurants with seasonal menus' },
  { name: 'Casual Dining', description: 'Full-service restaurants, grills, taverns and brewpubs' },
  { name: 'Quick Service', description: 'QSR and fast-casual concepts; speed, consistency, portion control' },
  { name: 'Healthcare', description: 'Hospitals and medical centers: patient trays, retail cafés, catering' },
  { name: 'Education', description: 'K-12 school districts (NSLP) and college/university dining' },
  {
    name: 'Hospitality/Hotels',
    description: 'Hotels, resorts and conference centers: F&B outlets, banquets, room service',
  },
  { name: 'Catering', description: 'Off-premise and event caterers, banquet halls' },
  { name: 'Grocery/Retail', description: 'Grocery delis, prepared foods, markets and co-ops' },
  { name: 'Corporate Dining', description: 'Contract-managed workplace cafés and campus dining' },
  { name: 'Senior Living', description: 'Independent, assisted living and memory care dining' },
];

/** Tags shared by organizations and contacts; id = 1-based position (append only, like {@link SEGMENTS}). */
export const TAGS: readonly { readonly name: string; readonly color: string }[] = [
  { name: 'Key Account', color: 'red' },
  { name: 'Multi-Unit', color: 'blue' },
  { name: 'Independent', color: 'green' },
  { name: 'GPO Member', color: 'orange' },
  { name: 'Sample Requested', color: 'amber' },
  { name: 'Price Sensitive', color: 'yellow' },
  { name: 'Sustainability Focus', color: 'teal' },
  { name: 'Seasonal Menu', color: 'cyan' },
  { name: 'Bid Cycle', color: 'indigo' },
  { name: 'Decision Maker', color: 'purple' },
  { name: 'Champion', color: 'pink' },
  { name: 'Gatekeeper', color: 'gray' },
];

/** Tag ids (1-based) that make sense on organizations and on contacts respectively. */
export const ORG_TAG_IDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
export const CONTACT_TAG_IDS: readonly number[] = [5, 10, 11, 12];

/** A US city with its state, telephone area code and 3-digit ZIP prefix, so addresses hang together. */
export interface City {
  readonly city: string;
  readonly state: string;
  readonly areaCode: string;
  readonly zipPrefix: string;
}

export const CITIES: readonly City[] = words(
  'Portland,OR,503,972|Seattle,WA,206,981|Boise,ID,208,837|Sacramento,CA,916,958|San Diego,CA,619,921|' +
    'Phoenix,AZ,602,850|Denver,CO,303,802|Salt Lake City,UT,801,841|Austin,TX,512,787|San Antonio,TX,210,782|' +
    'Dallas,TX,214,752|Oklahoma City,OK,405,731|Kansas City,MO,816,641|Omaha,NE,402,681|Minneapolis,MN,612,554|' +
    'Milwaukee,WI,414,532|Chicago,IL,312,606|Indianapolis,IN,317,462|Columbus,OH,614,432|Detroit,MI,313,482|' +
    'Louisville,KY,502,402|Nashville,TN,615,372|Atlanta,GA,404,303|Charlotte,NC,704,282|Raleigh,NC,919,276|' +
    'Richmond,VA,804,232|Baltimore,MD,410,212|Philadelphia,PA,215,191|Pittsburgh,PA,412,152|Hartford,CT,860,061|' +
    'Providence,RI,401,029|Boston,MA,617,021|Burlington,VT,802,054|Albany,NY,518,122|Buffalo,NY,716,142|' +
    'Tampa,FL,813,336|Orlando,FL,407,328|New Orleans,LA,504,701|Birmingham,AL,205,352|Charleston,SC,843,294',
).map((entry) => {
  const [city = '', state = '', areaCode = '', zipPrefix = ''] = entry.split(',');
  return { city, state, areaCode, zipPrefix };
});

export const FIRST_NAMES: readonly string[] = words(
  'James|Maria|Robert|Linda|Michael|Patricia|David|Jennifer|William|Elizabeth|Carlos|Angela|Thomas|Sandra|' +
    'Daniel|Michelle|Anthony|Kimberly|Kevin|Laura|Brian|Rachel|Marcus|Nicole|Luis|Heather|Andre|Megan|Tyler|' +
    'Danielle|Samuel|Tasha|Greg|Priya|Jamal|Erin|Victor|Amy|Ray|Colleen|Hector|Stephanie|Dwayne|Kelly|Frank|' +
    'Monica|Derek|Alicia|Sean|Lauren',
);

export const LAST_NAMES: readonly string[] = words(
  'Smith|Johnson|Williams|Brown|Garcia|Miller|Davis|Rodriguez|Martinez|Hernandez|Lopez|Wilson|Anderson|' +
    'Thomas|Taylor|Moore|Jackson|Martin|Lee|Thompson|White|Harris|Clark|Lewis|Robinson|Walker|Young|Allen|' +
    'King|Wright|Scott|Nguyen|Hill|Flores|Green|Adams|Nelson|Baker|Campbell|Mitchell|' +
    "O'Brien|D'Angelo|McAllister|Patel|Kowalski|Rossi|Schmidt|Okafor|Novak|Fitzgerald",
);

/**
 * Names with characters outside ASCII, given deterministically to a few contacts (see accounts.ts)
 * so every data set exercises UTF-8 end to end.
 */
export const NON_ASCII_NAMES: readonly (readonly [first: string, last: string])[] = [
  ['José', 'Peña'],
  ['Zoë', 'Brontë'],
  ['Renée', 'Lefèvre'],
  ['Björn', 'Ågren'],
  ['Siobhán', 'Ó Briain'],
  ['Thảo', 'Nguyễn'],
];

export const PLACES: readonly string[] = words(
  'Harbor|Lakeside|Riverside|Maple|Cedar|Summit|Bayview|Oak Hill|Willow Creek|Northgate|Pine Ridge|' +
    'Copper Kettle|Granite|Meadowbrook|Foxhall|Silver Lake|Blue Heron|Stonebridge|Magnolia|Iron Horse|' +
    'Red Barn|Westfield|Highland|Juniper|Evergreen|Union Station',
);

/** Street names and suffixes: faker's en_US streets ("Marvin-Champlin Port") do not look like addresses. */
export const STREETS = words(
  'Main|Oak|Maple|Market|Commerce|Harbor|Elm|Washington|Lincoln|Park|Lake|Mill|Church|Industrial|Airport|' +
    'Broadway|Second|Third|Fifth|Cedar|Pine|Jefferson|Madison|Franklin|Center|Front|Water|Grand|Highland|Union',
);
export const STREET_SUFFIXES = words('St|Ave|Blvd|Rd|Dr|Pkwy|Way|Ln|Ct|Pl');

const SAINTS = words('Mary|Joseph|Luke|Vincent|Jude|Francis|Anne|Elizabeth');
const NOUNS = words('Ember|Salt|Olive|Fig|Anchor|Sparrow|Smoke|Barley|Citrus|Hearth');
const COMPANY_SUFFIXES = words('Financial|Insurance Group|Technologies|Logistics|Health Systems|Energy');

/** Organization kinds: a segment (index into {@link SEGMENTS}) or a trade partner without a segment. */
export type OrgKind = { readonly segmentIndex: number } | { readonly partner: 'distributor' | 'principal' };

/** Name templates per segment, then for distributors and principals. `{place}` etc. are filled in names.ts. */
export const SEGMENT_NAME_TEMPLATES: readonly (readonly string[])[] = [
  [
    '{surname} Chophouse',
    'The {place} Room',
    '{place} Bistro',
    'Maison {surname}',
    "{surname}'s Steak & Oyster",
  ],
  [
    '{place} Grill',
    '{place} Tavern',
    'The {noun} & {noun2}',
    "{surname}'s Kitchen",
    '{place} Brewing Co. Taproom',
  ],
  [
    '{noun} Burger Co.',
    '{place} Taqueria',
    'Fresh {noun} Bowls',
    "{surname}'s Hot Chicken",
    '{place} Bagel Works',
  ],
  [
    "St. {saint}'s Medical Center Dining",
    '{city} Regional Hospital Food Services',
    '{place} Health Nutrition Services',
    "{city} Children's Hospital Café",
  ],
  [
    '{place} Unified School District',
    '{city} Public Schools Nutrition Services',
    '{place} Community College Dining',
    '{surname} University Dining Services',
  ],
  [
    'The {place} Hotel & Suites',
    '{place} Resort & Spa',
    '{city} Grand Hotel',
    '{place} Inn & Conference Center',
  ],
  [
    '{surname} Catering Co.',
    '{place} Events & Catering',
    'Silver Platter Catering of {city}',
    '{surname} & Sons Banquets',
  ],
  ['{place} Market', '{surname} Family Grocers', '{city} Food Co-op', '{place} Fresh Market Deli'],
  ['{company} Corporate Café', '{place} Tech Campus Dining', '{company} HQ Cafeteria'],
  ['{place} Senior Living', '{place} Oaks Retirement Community', '{surname} Gardens Assisted Living'],
];

export const PARTNER_NAME_TEMPLATES: Readonly<Record<'distributor' | 'principal', readonly string[]>> = {
  distributor: [
    '{place} Foodservice',
    '{surname} Food Distributors',
    '{city} Restaurant Supply',
    'Tri-State {noun} Distribution',
  ],
  // "Foods, Inc." puts a comma in a name on purpose (CSV/COPY-unfriendly, and realistic).
  principal: ['{surname} Farms', '{place} Provisions Co.', '{place} Creamery', '{surname} Foods, Inc.'],
};

/** Annual revenue range (dollars) and head count range per segment index; partners use the last entry. */
export const ORG_SIZE: readonly (readonly [
  minRevenue: number,
  maxRevenue: number,
  minStaff: number,
  maxStaff: number,
])[] = [
  [1_500_000, 9_000_000, 25, 120],
  [800_000, 6_000_000, 15, 90],
  [600_000, 40_000_000, 10, 600],
  [20_000_000, 900_000_000, 400, 9_000],
  [5_000_000, 400_000_000, 80, 6_000],
  [4_000_000, 120_000_000, 60, 1_500],
  [500_000, 8_000_000, 8, 150],
  [3_000_000, 80_000_000, 30, 900],
  [2_000_000, 30_000_000, 15, 300],
  [3_000_000, 45_000_000, 40, 700],
  [25_000_000, 2_000_000_000, 120, 12_000],
];

/** Contact titles per segment index (same order as {@link SEGMENTS}), then distributor, principal. */
export const TITLES_BY_KIND: readonly (readonly string[])[] = [
  ['Executive Chef', 'Chef de Cuisine', 'Owner', 'General Manager', 'Sous Chef', 'Beverage Director'],
  ['Owner', 'Kitchen Manager', 'General Manager', 'Executive Chef', 'Purchasing Manager'],
  ['Franchise Owner', 'Director of Operations', 'Purchasing Manager', 'Culinary Development Manager'],
  [
    'Director of Food & Nutrition Services',
    'Clinical Nutrition Manager',
    'Executive Chef',
    'Purchasing Manager',
  ],
  ['Child Nutrition Director', 'Director, Dining Services', 'Food Services Supervisor', 'Executive Chef'],
  ['Food & Beverage Director', 'Executive Chef', 'Banquet Chef', 'Purchasing Manager', 'Outlet Manager'],
  ['Owner', 'Executive Chef', 'Catering Sales Manager', 'Kitchen Manager'],
  ['Deli & Prepared Foods Manager', 'Category Manager', 'Store Director', 'Purchasing Manager'],
  ['Café Manager', 'Executive Chef', 'Director, Dining Services', 'Purchasing Manager'],
  ['Dining Services Director', 'Executive Chef', 'Registered Dietitian', 'Executive Director'],
  ['Category Manager', 'Purchasing Manager', 'District Sales Representative', 'VP, Sales'],
  ['Regional Sales Manager', 'Foodservice Marketing Manager', 'Broker Manager', 'Culinary Specialist'],
];

/** Replaces `{key}` placeholders. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (m, key: string) => values[key] ?? m);
}

/** Word lists for name templates, exported for names.ts. */
export const NAME_WORDS = { SAINTS, NOUNS, COMPANY_SUFFIXES } as const;

/** A `|`-separated word list (keeps long lists compact under prettier). */
export function words(list: string): string[] {
  return list.split('|');
}
