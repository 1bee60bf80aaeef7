/**
 * Food-service product catalog rows (products are admin-managed: `created_by`, not `sales_id`).
 */
import { words } from './catalog.js';
import { amountBetween, between, daysBefore, type TableContext } from './context.js';
import type { SeedRow } from './types.js';

interface ProductCategory {
  readonly category: string;
  /** SKU prefix. */
  readonly code: string;
  readonly storage: 'Frozen' | 'Refrigerated' | 'Dry' | 'Ambient';
  readonly price: readonly [min: number, max: number];
  readonly shelfLifeDays: readonly [min: number, max: number];
  /** `name~pack size` entries. */
  readonly items: readonly string[];
  readonly principals: readonly string[];
  readonly certifications: readonly string[];
  readonly allergens: readonly string[];
}

// Names keep the distributor-catalog style: commas, slashes, inch marks ("3/8\""), #10 cans.
const CATEGORIES: readonly ProductCategory[] = [
  {
    category: 'Proteins',
    code: 'PRO',
    storage: 'Frozen',
    price: [38, 189],
    shelfLifeDays: [180, 365],
    items: words(
      'Chicken Breast, Boneless Skinless, 6 oz IQF~4/10 lb|Angus Ground Beef Patties, 80/20, 4 oz~1/10 lb|' +
        'Pork Shoulder, Bone-In~2/8 lb avg|Applewood Smoked Bacon, Layflat 14/18~1/15 lb|' +
        'Turkey Breast, Oven Roasted, Sliced~6/2 lb|Chicken Wings, Jumbo~4/10 lb|' +
        'Beef Brisket, Choice, Packer Cut~3/14 lb avg|Plant-Based Burger Patties, 4 oz~40/4 oz',
    ),
    principals: words('Golden Prairie Farms|Lone Star Meats|Heartland Poultry'),
    certifications: words('Halal|USDA Choice|No Antibiotics Ever|Gluten-Free'),
    allergens: words('Soy|Wheat'),
  },
  {
    category: 'Seafood',
    code: 'SEA',
    storage: 'Frozen',
    price: [45, 240],
    shelfLifeDays: [180, 540],
    items: words(
      'Shrimp, White, 16/20, Peeled & Deveined, Tail-On~5/2 lb|Atlantic Salmon Fillet, Skin-On, 6 oz~1/10 lb|' +
        'Cod Loins, Wild, Beer-Battered~2/5 lb|Tuna, Chunk Light in Water~6/66.5 oz|' +
        'Crab Cakes, Maryland Style, 3 oz~2/24 ct',
    ),
    principals: words('Bayside Seafood Co.|Pacific Harvest'),
    certifications: words('MSC Certified|BAP Certified|Kosher'),
    allergens: words('Shellfish|Fish|Wheat|Egg'),
  },
  {
    category: 'Produce',
    code: 'PRD',
    storage: 'Refrigerated',
    price: [18, 79],
    shelfLifeDays: [5, 21],
    items: words(
      'Romaine Hearts~12/3 ct|Tomatoes, Roma, 5x6~1/25 lb|Yellow Onions, Jumbo~1/50 lb|Avocados, Hass~1/48 ct|' +
        'Spring Mix~2/3 lb|Lemons~1/115 ct|Russet Potatoes, 70 ct~1/50 lb',
    ),
    principals: words('Valley Fresh Growers|Sunrise Produce Co.'),
    certifications: words('Organic|Non-GMO Project Verified|Fair Trade'),
    allergens: [],
  },
  {
    category: 'Dairy',
    code: 'DAI',
    storage: 'Refrigerated',
    price: [22, 140],
    shelfLifeDays: [21, 120],
    items: words(
      'Mozzarella, Low-Moisture, Shredded~4/5 lb|Heavy Cream, 40%~12/1 qt|Butter, Unsalted, Grade AA~36/1 lb|' +
        'Greek Yogurt, Plain, Nonfat~4/5 lb|Cheddar, Sharp, Sliced~8/1.5 lb|Liquid Whole Eggs~12/2 lb',
    ),
    principals: words('Sunny Valley Dairy|Green Pastures Creamery'),
    certifications: words('Kosher (OU-D)|rBST-Free|Organic'),
    allergens: words('Milk|Egg'),
  },
  {
    category: 'Dry Goods',
    code: 'DRG',
    storage: 'Dry',
    price: [14, 95],
    shelfLifeDays: [270, 730],
    items: words(
      'Tomatoes, Diced in Juice~6/#10 cans|Marinara Sauce~6/#10 cans|Penne Rigate~2/10 lb|Jasmine Rice~1/25 lb|' +
        'Canola Oil, Clear Fry~1/35 lb JIB|All-Purpose Flour~1/50 lb|Chipotle Peppers in Adobo~24/7 oz|' +
        'Ranch Dressing~4/1 gal',
    ),
    principals: words("Heritage Mills|Nonna's Kitchen|Crescent Foods"),
    certifications: words('Kosher|Gluten-Free|Non-GMO Project Verified|Vegan'),
    allergens: words('Wheat|Milk|Egg|Soy'),
  },
  {
    category: 'Frozen',
    code: 'FRZ',
    storage: 'Frozen',
    price: [24, 110],
    shelfLifeDays: [270, 540],
    items: words(
      'French Fries, 3/8" Straight Cut~6/5 lb|Sweet Potato Fries, Battered~6/2.5 lb|' +
        'Mixed Vegetables, California Blend~12/2 lb|Cheese Pizza, 16" Rising Crust~12 ct|' +
        'Belgian Waffles, Pre-Baked~144 ct',
    ),
    principals: words('Northern Plains Potato|Crescent Foods'),
    certifications: words('Kosher|Vegan|Gluten-Free'),
    allergens: words('Wheat|Milk|Soy'),
  },
  {
    category: 'Bakery',
    code: 'BAK',
    storage: 'Frozen',
    price: [19, 85],
    shelfLifeDays: [90, 180],
    items: words(
      'Brioche Burger Buns, 4.5"~8/12 ct|Ciabatta Rolls, Par-Baked~60/3 oz|Sourdough Loaf, Sliced~6/24 oz|' +
        'Butter Croissants, Thaw & Serve~48/2.5 oz|Flour Tortillas, 12"~12/12 ct',
    ),
    principals: words('Heritage Mills|Old World Bakehouse'),
    certifications: words('Kosher|Non-GMO Project Verified|Whole Grain'),
    allergens: words('Wheat|Milk|Egg|Sesame'),
  },
  {
    category: 'Beverages',
    code: 'BEV',
    storage: 'Ambient',
    price: [16, 120],
    shelfLifeDays: [60, 365],
    items: words(
      'Cold Brew Coffee Concentrate~4/0.5 gal|Orange Juice, Not From Concentrate~8/64 oz|' +
        'Sparkling Water, Lime~24/12 oz cans|Iced Tea, Unsweetened, Bag-in-Box~1/3 gal|' +
        'Oat Milk, Barista Edition~12/32 oz',
    ),
    principals: words('Clearwater Beverage|Mountain Roast Coffee'),
    certifications: words('Fair Trade|Organic|Kosher|Vegan'),
    allergens: [],
  },
  {
    category: 'Disposables',
    code: 'DSP',
    storage: 'Dry',
    price: [21, 160],
    shelfLifeDays: [1095, 1825],
    items: words(
      'Compostable Clamshell, 9x9~200 ct|Nitrile Gloves, Powder-Free, Large~10/100 ct|Paper Straws, Wrapped~4/500 ct|' +
        'Hot Cups, 12 oz, Double Wall~1000 ct|Deli Containers, 16 oz, with Lids~240 ct',
    ),
    principals: words('EcoServe Packaging|ProLine Disposables'),
    certifications: words('BPI Compostable|FSC Certified'),
    allergens: [],
  },
  {
    category: 'Janitorial',
    code: 'JAN',
    storage: 'Dry',
    price: [28, 145],
    shelfLifeDays: [730, 1095],
    items: words(
      'Quaternary Sanitizer, Concentrate~4/1 gal|Heavy-Duty Degreaser~4/1 gal|Dish Machine Detergent~2/2.5 gal',
    ),
    principals: words('SaniPro Solutions'),
    certifications: words('EPA Safer Choice|NSF Registered'),
    allergens: [],
  },
];

const VARIANTS = words('Premium|Value|Organic|Chef Select|Low-Sodium');

/** Every (category, item) pair, in catalog order. */
const ITEMS = CATEGORIES.flatMap((category) => category.items.map((item) => ({ category, item })));

/** SKU infix for a user: 8 hex digits of the user id, so SKUs differ between users. */
export function skuUserTag(userId: string): string {
  return userId.replace(/-/g, '').slice(0, 8).toUpperCase();
}

/** Generates `count` products; SKUs are `CODE-USERTAG-NNNN`, unique per user and across users. */
export function* generateProducts(ctx: TableContext, count: number): Generator<SeedRow> {
  const { faker, baseTime, user } = ctx;
  const order = faker.helpers.shuffle([...ITEMS]);
  const usedNames = new Set<string>();
  const tag = skuUserTag(user.id);
  for (let i = 0; i < count; i++) {
    const entry = order[i % order.length];
    if (!entry) break;
    const { category } = entry;
    const [baseName = entry.item, packSize = null] = entry.item.split('~');
    // Later passes over the catalog become variants ("Value Jasmine Rice") so names stay unique.
    const pass = Math.floor(i / order.length);
    let name = pass === 0 ? baseName : `${VARIANTS[(pass - 1) % VARIANTS.length]} ${baseName}`;
    if (usedNames.has(name)) name = `${name} (${i + 1})`;
    usedNames.add(name);
    const createdAt = between(faker, daysBefore(baseTime, 540), daysBefore(baseTime, 30));
    yield {
      id: ctx.id(i),
      sku: `${category.code}-${tag}-${String(i + 1).padStart(4, '0')}`,
      name,
      category: category.category,
      principal: faker.datatype.boolean(0.95) ? faker.helpers.arrayElement(category.principals) : null,
      unit_price: amountBetween(faker, category.price[0], category.price[1]),
      pack_size: packSize,
      is_active: faker.datatype.boolean(0.92),
      attributes: {
        storage: category.storage,
        shelf_life_days: faker.number.int({ min: category.shelfLifeDays[0], max: category.shelfLifeDays[1] }),
        case_weight_lb: faker.number.int({ min: 20, max: 600 }) / 10,
        country_of_origin: faker.helpers.weightedArrayElement([
          { weight: 80, value: 'USA' },
          { weight: 8, value: 'Canada' },
          { weight: 7, value: 'Mexico' },
          { weight: 5, value: 'Italy' },
        ]),
        allergens: faker.helpers.arrayElements(category.allergens, { min: 0, max: 2 }),
        // GTIN-14 as a string: leading zeros are significant.
        gtin: `0${faker.string.numeric(13)}`,
      },
      certifications: faker.helpers.arrayElements(category.certifications, { min: 0, max: 2 }),
      created_by: user.id,
      created_at: createdAt,
      updated_at: between(faker, createdAt, baseTime),
    };
  }
}
