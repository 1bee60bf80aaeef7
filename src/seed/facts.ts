/**
 * What later tables need to know about the rows of earlier ones, kept compact so the generator can
 * stream a million-row table without holding it: ids as 16 bytes, numbers and row indexes in typed
 * arrays, strings only where later rows repeat them (names). Rows themselves are never kept.
 */
import { stringify as uuidStringify } from 'uuid';
import { CITIES, type City } from './catalog.js';
import type { TableContext } from './context.js';

const CITY_INDEX = new Map(CITIES.map((city, i) => [city, i]));

/** The row ids of one user's table, 16 bytes each (a quarter of their strings). */
export class IdList {
  private readonly bytes: Uint8Array;

  constructor(readonly length: number) {
    this.bytes = new Uint8Array(length * 16);
  }

  /** Derives the id of row `index` (as `ctx.id(index)`), keeps it, and returns it as a string. */
  record(ctx: TableContext, index: number): string {
    ctx.idInto(index, this.bytes, index * 16);
    return this.get(index);
  }

  get(index: number): string {
    return uuidStringify(this.bytes, index * 16);
  }
}

/**
 * Strings kept as UTF-8 in one growing buffer, for names later rows repeat: about a third of the
 * memory of JS strings (which are often two bytes per character and built by concatenation).
 */
export class StringList {
  private bytes = Buffer.alloc(64 * 1024);
  /** End offset of string i in `bytes`. */
  private ends = new Uint32Array(1024);
  length = 0;

  push(text: string): void {
    const start = this.length === 0 ? 0 : this.ends[this.length - 1]!;
    const end = start + Buffer.byteLength(text);
    if (end > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(end, Math.ceil(this.bytes.length * 1.5)));
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    if (this.length === this.ends.length) {
      const grown = new Uint32Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.bytes.write(text, start);
    this.ends[this.length++] = end;
  }

  get(index: number): string {
    return this.bytes.toString('utf8', index === 0 ? 0 : this.ends[index - 1], this.ends[index]);
  }
}

/** Row indexes grouped by a key index, in the order they were added; `of(key)` is a view, not a copy. */
export class Groups {
  private constructor(
    private readonly offsets: Int32Array,
    private readonly items: Int32Array,
  ) {}

  /** Groups the pairs `forEachPair` visits (twice: once to count, once to place) into `keyCount` keys. */
  static build(keyCount: number, forEachPair: (visit: (key: number, item: number) => void) => void): Groups {
    const offsets = new Int32Array(keyCount + 1);
    forEachPair((key) => offsets[key + 1]!++);
    for (let k = 0; k < keyCount; k++) offsets[k + 1]! += offsets[k]!;
    const items = new Int32Array(offsets[keyCount]!);
    const next = offsets.slice(0, keyCount);
    forEachPair((key, item) => {
      items[next[key]!++] = item;
    });
    return new Groups(offsets, items);
  }

  of(key: number): Int32Array {
    return this.items.subarray(this.offsets[key], this.offsets[key + 1]);
  }
}

/** What contacts, opportunities, notes and activities need about one user's organizations. */
export class OrgFacts {
  readonly ids: IdList;
  readonly names = new StringList();
  /** Index into TITLES_BY_KIND (see accounts.ts). */
  readonly kinds: Uint8Array;
  private readonly cities: Uint8Array;
  /** created_at, in ms since the epoch. */
  readonly createdAt: Float64Array;

  constructor(readonly length: number) {
    this.ids = new IdList(length);
    this.kinds = new Uint8Array(length);
    this.cities = new Uint8Array(length);
    this.createdAt = new Float64Array(length);
  }

  /** Records organization `index`; called once per organization, in order. */
  add(index: number, fact: { name: string; kind: number; city: City; createdAt: Date }): void {
    this.names.push(fact.name);
    this.kinds[index] = fact.kind;
    this.cities[index] = CITY_INDEX.get(fact.city) ?? 0;
    this.createdAt[index] = fact.createdAt.getTime();
  }

  city(index: number): City {
    return CITIES[this.cities[index]!]!;
  }
}

/** What later tables need about one user's contacts. */
export class ContactFacts {
  readonly ids: IdList;
  /** Organization index, or -1 for a contact without one. */
  readonly orgs: Int32Array;
  /** First names: shared catalogue strings, so one pointer each. */
  readonly firstNames: string[] = [];
  readonly createdAt: Float64Array;
  private byOrgCache: Groups | undefined;

  constructor(
    readonly length: number,
    private readonly orgCount: number,
  ) {
    this.ids = new IdList(length);
    this.orgs = new Int32Array(length);
    this.createdAt = new Float64Array(length);
  }

  /** Contact indexes per organization index, in contact order. */
  byOrg(): Groups {
    this.byOrgCache ??= Groups.build(this.orgCount, (visit) => {
      for (let i = 0; i < this.length; i++) if (this.orgs[i]! >= 0) visit(this.orgs[i]!, i);
    });
    return this.byOrgCache;
  }
}

/** What deals, activities and tasks need about one user's opportunities. */
export class OpportunityFacts {
  readonly ids: IdList;
  readonly orgs: Int32Array;
  /** The closed-won opportunities, which the deals copy, in order: index, name, amount, created_at. */
  readonly won = {
    indexes: [] as number[],
    names: new StringList(),
    amounts: [] as number[],
    createdAt: [] as number[],
  };
  /** Contact indexes of opportunity i: contactItems[contactOffsets[i] .. contactOffsets[i + 1]). */
  private readonly contactOffsets: Int32Array;
  private contactItems: Int32Array;
  private byOrgCache: Groups | undefined;
  private byContactCache: Groups | undefined;

  constructor(
    readonly length: number,
    private readonly orgCount: number,
    private readonly contactCount: number,
  ) {
    this.ids = new IdList(length);
    this.orgs = new Int32Array(length);
    this.contactOffsets = new Int32Array(length + 1);
    this.contactItems = new Int32Array(Math.min(length, 1024));
  }

  get wonCount(): number {
    return this.won.indexes.length;
  }

  /** Records opportunity `index`; called once per opportunity, in order. */
  add(
    index: number,
    fact: {
      org: number;
      contacts: readonly number[];
      name: string;
      won: boolean;
      amount: number;
      createdAt: Date;
    },
  ): void {
    this.orgs[index] = fact.org;
    if (fact.won) {
      this.won.indexes.push(index);
      this.won.names.push(fact.name);
      this.won.amounts.push(fact.amount);
      this.won.createdAt.push(fact.createdAt.getTime());
    }
    this.setContacts(index, fact.contacts);
  }

  private setContacts(index: number, contacts: readonly number[]): void {
    const start = this.contactOffsets[index]!;
    if (start + contacts.length > this.contactItems.length) {
      const grown = new Int32Array(
        Math.max(start + contacts.length, Math.ceil(this.contactItems.length * 1.5)),
      );
      grown.set(this.contactItems);
      this.contactItems = grown;
    }
    this.contactItems.set(contacts, start);
    this.contactOffsets[index + 1] = start + contacts.length;
  }

  /** Opportunity indexes per organization index. */
  byOrg(): Groups {
    this.byOrgCache ??= Groups.build(this.orgCount, (visit) => {
      for (let i = 0; i < this.length; i++) visit(this.orgs[i]!, i);
    });
    return this.byOrgCache;
  }

  /** Opportunity indexes per contact index (an opportunity appears under each of its contacts). */
  byContact(): Groups {
    this.byContactCache ??= Groups.build(this.contactCount, (visit) => {
      for (let i = 0; i < this.length; i++) {
        for (let k = this.contactOffsets[i]!; k < this.contactOffsets[i + 1]!; k++)
          visit(this.contactItems[k]!, i);
      }
    });
    return this.byContactCache;
  }
}

/** What deal notes need about one user's deals. */
export class DealFacts {
  readonly ids: IdList;
  readonly closedAt: Float64Array;

  constructor(readonly length: number) {
    this.ids = new IdList(length);
    this.closedAt = new Float64Array(length);
  }
}
