import { DEFAULT_PIPELINE_STAGES } from '../src/config.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { v5 as uuidv5 } from 'uuid';
import { describe, expect, it } from 'vitest';
import {
  arrayLiteral,
  encodeCopyField,
  encodeCopyRow,
  encodeCopyRows,
  escapeCopyText,
} from '../src/db/copy-text.js';
import { withClient } from '../src/db/connect.js';
import { DEFAULT_VOLUMES, SEED_COLUMN_TYPES, SEED_TABLES, generateSeedData } from '../src/seed/generate.js';
import { createTestDatabase } from './support/db.js';

// String.raw keeps the expected COPY text readable: what you see is what goes over the wire.
const raw = String.raw;

describe('escapeCopyText', () => {
  it('escapes exactly backslash, tab, newline and carriage return', () => {
    expect(escapeCopyText('plain')).toBe('plain');
    expect(escapeCopyText('a\\b')).toBe(raw`a\\b`);
    expect(escapeCopyText('a\tb\nc\rd')).toBe(raw`a\tb\nc\rd`);
    expect(escapeCopyText('\\N')).toBe(raw`\\N`);
    expect(escapeCopyText('\\.')).toBe(raw`\\.`);
    expect(escapeCopyText(`O'Brien, "Chef" | José 🍕`)).toBe(`O'Brien, "Chef" | José 🍕`);
  });
});

describe('encodeCopyField', () => {
  it('writes NULL as \\N and keeps the empty string distinct', () => {
    expect(encodeCopyField(null)).toBe(raw`\N`);
    expect(encodeCopyField(undefined)).toBe(raw`\N`);
    expect(encodeCopyField('')).toBe('');
    expect(encodeCopyField('\\N')).toBe(raw`\\N`);
  });

  it('writes numbers, bigints and booleans in Postgres input syntax', () => {
    expect(encodeCopyField(0)).toBe('0');
    expect(encodeCopyField(-1.5)).toBe('-1.5');
    expect(encodeCopyField(1234567.89)).toBe('1234567.89');
    expect(encodeCopyField(1e21)).toBe('1e+21');
    expect(encodeCopyField(Number.NaN)).toBe('NaN');
    expect(encodeCopyField(Infinity)).toBe('Infinity');
    expect(encodeCopyField(-Infinity)).toBe('-Infinity');
    expect(encodeCopyField(9007199254740993n)).toBe('9007199254740993');
    expect(encodeCopyField(true)).toBe('t');
    expect(encodeCopyField(false)).toBe('f');
  });

  it('writes dates as UTC ISO 8601 and rejects invalid dates', () => {
    expect(encodeCopyField(new Date('2025-10-16T12:00:00Z'))).toBe('2025-10-16T12:00:00.000Z');
    expect(() => encodeCopyField(new Date('nope'))).toThrow(TypeError);
  });

  it('writes bytes as bytea hex, with the backslash COPY-escaped', () => {
    expect(encodeCopyField(Buffer.from([0, 1, 0xab, 0xff]))).toBe(raw`\\x0001abff`);
    expect(encodeCopyField(new Uint8Array([0x5c]))).toBe(raw`\\x5c`);
  });

  it('rejects NUL characters and unsupported types', () => {
    expect(() => encodeCopyField('a\0b')).toThrow(TypeError);
    expect(() => encodeCopyField(Symbol('x'))).toThrow(TypeError);
    expect(() => encodeCopyField(() => 1)).toThrow(TypeError);
  });

  it('writes objects as JSON, COPY-escaped', () => {
    expect(encodeCopyField({ a: 1, b: [true, null] })).toBe('{"a":1,"b":[true,null]}');
    // JSON escapes the newline as backslash-n; COPY then doubles that backslash.
    expect(encodeCopyField({ note: 'x\ny' })).toBe(raw`{"note":"x\\ny"}`);
    expect(encodeCopyField({ tab: 'a\tb', name: "O'Brien" })).toBe(raw`{"tab":"a\\tb","name":"O'Brien"}`);
  });

  it('uses the json/jsonb hint for arrays and passes strings through as JSON text', () => {
    expect(encodeCopyField(['https://a.example/x', { k: 'v' }], 'jsonb')).toBe(
      '["https://a.example/x",{"k":"v"}]',
    );
    expect(encodeCopyField([], 'jsonb')).toBe('[]');
    expect(encodeCopyField([], 'JSON')).toBe('[]');
    expect(encodeCopyField('{"already":"json"}', 'jsonb')).toBe('{"already":"json"}');
    expect(encodeCopyField(42, 'jsonb')).toBe('42');
    expect(encodeCopyField(true, 'json')).toBe('true');
    expect(encodeCopyField(null, 'jsonb')).toBe(raw`\N`);
  });
});

describe('array literals', () => {
  it('writes plain elements bare and empty arrays as {}', () => {
    expect(encodeCopyField([])).toBe('{}');
    expect(encodeCopyField(['a', 'b'])).toBe('{a,b}');
    expect(encodeCopyField([1, 2, 3], 'bigint[]')).toBe('{1,2,3}');
    expect(encodeCopyField([true, false])).toBe('{t,f}');
    expect(encodeCopyField(['José', "O'Brien"])).toBe(`{José,O'Brien}`);
  });

  it('quotes elements that are empty, spell NULL, or hold special characters', () => {
    expect(arrayLiteral([''])).toBe('{""}');
    expect(arrayLiteral(['NULL', 'null', 'Null'])).toBe('{"NULL","null","Null"}');
    expect(arrayLiteral(['Fair Trade'])).toBe('{"Fair Trade"}');
    expect(arrayLiteral(['a,b', '{x}', 'tab\there', ' lead'])).toBe('{"a,b","{x}","tab\there"," lead"}');
    expect(arrayLiteral(['say "hi"'])).toBe(raw`{"say \"hi\""}`);
    expect(arrayLiteral(['back\\slash'])).toBe(raw`{"back\\slash"}`);
    expect(arrayLiteral([null, 'x', undefined])).toBe('{NULL,x,NULL}');
  });

  it('COPY-escapes the finished literal', () => {
    // Element a\b → literal "a\\b" → COPY text "a\\\\b".
    expect(encodeCopyField(['a\\b'])).toBe(raw`{"a\\\\b"}`);
    expect(encodeCopyField(['line1\nline2'])).toBe(raw`{"line1\nline2"}`);
    expect(encodeCopyField(['say "hi"'])).toBe(raw`{"say \\"hi\\""}`);
  });

  it('writes nested arrays as multi-dimensional literals', () => {
    expect(
      encodeCopyField(
        [
          [1, 2],
          [3, 4],
        ],
        'integer[]',
      ),
    ).toBe('{{1,2},{3,4}}');
    expect(encodeCopyField([['a b'], [null]], '_text')).toBe('{{"a b"},{NULL}}');
  });

  it('writes dates and objects inside arrays in their text forms', () => {
    expect(arrayLiteral([new Date('2025-01-02T03:04:05Z')])).toBe('{2025-01-02T03:04:05.000Z}');
    expect(encodeCopyField([{ a: 1 }, { b: 'x y' }], 'jsonb[]')).toBe(
      raw`{"{\\"a\\":1}","{\\"b\\":\\"x y\\"}"}`,
    );
  });
});

describe('encodeCopyRow / encodeCopyRows', () => {
  it('joins fields with tabs and ends the line with a newline', () => {
    expect(encodeCopyRow(['a', null, 1, true, ['x y']])).toBe('a\t\\N\t1\tt\t{"x y"}\n');
    expect(encodeCopyRow(['tab\there', 'nl\nhere'])).toBe(raw`tab\there` + '\t' + raw`nl\nhere` + '\n');
  });

  it('applies column types by position and checks their count', () => {
    expect(encodeCopyRow([['a'], ['a']], ['jsonb', 'text[]'])).toBe('["a"]\t{a}\n');
    expect(() => encodeCopyRow(['a'], ['text', 'text'])).toThrow(RangeError);
  });

  it('orders fields by the column list and writes missing keys as NULL', () => {
    const rows = [
      { id: 1, name: 'Harbor Grill', links: ['https://x'] },
      { name: "O'Brien's", id: 2 },
    ];
    expect(encodeCopyRows(rows, ['id', 'name', 'links'], ['bigint', 'text', 'jsonb'])).toBe(
      '1\tHarbor Grill\t["https://x"]\n' + "2\tO'Brien's\t\\N\n",
    );
    expect(encodeCopyRows([], ['id'])).toBe('');
    expect(() => encodeCopyRows(rows, ['id'], ['bigint', 'text'])).toThrow(RangeError);
  });
});

async function copyIn(client: pg.Client, sql: string, text: string): Promise<number> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from([Buffer.from(text, 'utf8')]), stream);
  return stream.rowCount ?? -1;
}

describe('COPY FROM round trip on a real server', () => {
  it('reads back exactly what was encoded', async () => {
    const url = await createTestDatabase({ template: 'empty' });
    const columns = ['t', 'n', 'num', 'b', 'ts', 'd', 'arr', 'ids', 'uuids', 'j', 'ja', 'grid', 'bytes', 'f'];
    const types = [
      'text',
      'integer',
      'numeric',
      'boolean',
      'timestamptz',
      'date',
      'text[]',
      'bigint[]',
      'uuid[]',
      'jsonb',
      'jsonb',
      'integer[]',
      'bytea',
      'float8',
    ];
    const someUuid = uuidv5('x', uuidv5.DNS);
    const rows: Record<string, unknown>[] = [
      {
        t: `O'Brien, "Chef"\tTab\nNew line\r\nCRLF \\ backslash \\N not null \\. José Zoë 🍕`,
        n: -42,
        num: 1234567.89,
        b: true,
        ts: new Date('2025-10-16T12:34:56.789Z'),
        d: '2025-02-28',
        arr: [
          'plain',
          'with space',
          'comma,inside',
          '{braces}',
          'quote"inside',
          'back\\slash',
          '',
          'NULL',
          null,
          'tab\there',
          'new\nline',
          'José',
        ],
        ids: [1, 2, 9007199254740993n],
        uuids: [someUuid],
        j: {
          name: "O'Brien",
          nested: { arr: [1, 'two', null, true] },
          text: 'line1\nline2\ttab\\back "q"',
          emoji: '🍕',
        },
        ja: ['https://example.com/a?b=1&c=2', { k: 'v' }],
        grid: [
          [1, 2],
          [3, 4],
        ],
        bytes: Buffer.from([0, 1, 2, 255, 92, 10]),
        f: 0.1 + 0.2,
      },
      {
        t: '',
        n: 0,
        num: 0,
        b: false,
        ts: new Date(0),
        d: '1999-12-31',
        arr: [],
        ids: [],
        uuids: [],
        j: {},
        ja: [],
        grid: [],
        bytes: Buffer.alloc(0),
        f: -0.5,
      },
      { t: null },
    ];
    await withClient(url, async (client) => {
      await client.query(
        `create table rt (k serial primary key, ${columns.map((c, i) => `${c} ${types[i]}`).join(', ')})`,
      );
      const count = await copyIn(
        client,
        `copy rt (${columns.join(', ')}) from stdin`,
        encodeCopyRows(rows, columns, types),
      );
      expect(count).toBe(3);
      const { rows: back } = await client.query(
        `select ${columns.map((c) => (c === 'd' ? 'd::text as d' : c)).join(', ')} from rt order by k`,
      );
      expect(back[0]).toEqual({ ...rows[0], num: '1234567.89', ids: ['1', '2', '9007199254740993'] });
      expect(back[1]).toEqual({ ...rows[1], num: '0' });
      expect(back[2]).toEqual(Object.fromEntries(columns.map((c) => [c, null])));
    });
  });

  it('keeps values that look like COPY markers as data', async () => {
    const url = await createTestDatabase({ template: 'empty' });
    const values = ['\\.', '\\N', '', null, '\\', '\r\n', '\t'];
    await withClient(url, async (client) => {
      await client.query('create table markers (k serial primary key, v text)');
      await copyIn(client, 'copy markers (v) from stdin', values.map((v) => encodeCopyRow([v])).join(''));
      const { rows } = await client.query<{ v: string | null }>('select v from markers order by k');
      expect(rows.map((r) => r.v)).toEqual(values);
    });
  });

  it('loads the default seed data set into the CRM schema', async () => {
    const url = await createTestDatabase({ template: 'crm' });
    const users = (['admin', 'sales_director', 'account_manager'] as const).map((role) => {
      const email = `${role}@test.local`;
      return { id: uuidv5(email, uuidv5.DNS), email, role, volumes: DEFAULT_VOLUMES[role] };
    });
    const data = generateSeedData({
      seed: 'copy-text-test',
      users,
      opportunity: {
        stages: [...DEFAULT_PIPELINE_STAGES],
        maxAmount: 1_000_000,
        defaultProbability: 50,
        defaultCategory: 'new_business',
      },
    });
    await withClient(url, async (client) => {
      await client.query('begin');
      for (const u of users) {
        await client.query('insert into auth.users (id, email) values ($1, $2)', [u.id, u.email]);
        await client.query(
          'insert into public.sales (id, first_name, last_name, email, role) values ($1, $2, $3, $4, $5)',
          [u.id, 'Test', u.role, u.email, u.role],
        );
      }
      for (const table of SEED_TABLES) {
        const spec = SEED_COLUMN_TYPES[table];
        const columns = Object.keys(spec);
        const text = encodeCopyRows(data.tables.get(table) ?? [], columns, Object.values(spec));
        const list = columns.map((c) => `"${c}"`).join(', ');
        const count = await copyIn(client, `copy public."${table}" (${list}) from stdin`, text);
        expect(count, table).toBe(data.tables.get(table)?.length);
      }
      await client.query('commit');
      // Spot-check the awkward values: every note text (newlines, tabs, backslashes, \N) and every name.
      const notes = await client.query<{ id: string; text: string }>(
        'select id, text from public."contactNotes"',
      );
      const noteText = new Map(notes.rows.map((r) => [r.id, r.text]));
      for (const row of data.tables.get('contactNotes') ?? [])
        expect(noteText.get(row.id as string)).toBe(row.text);
      const contacts = await client.query<{
        id: string;
        first_name: string;
        last_name: string;
        tag_ids: string[];
        phone: string | null;
      }>('select id, first_name, last_name, tag_ids, phone from public.contacts');
      const byId = new Map(contacts.rows.map((r) => [r.id, r]));
      for (const row of data.tables.get('contacts') ?? []) {
        expect(byId.get(row.id as string)).toEqual({
          id: row.id,
          first_name: row.first_name,
          last_name: row.last_name,
          tag_ids: (row.tag_ids as number[]).map(String),
          phone: row.phone,
        });
      }
      const orgs = await client.query<{ id: string; context_links: unknown; annual_revenue: string }>(
        'select id, context_links, annual_revenue::float8 as annual_revenue from public.organizations',
      );
      const orgById = new Map(orgs.rows.map((r) => [r.id, r]));
      for (const row of data.tables.get('organizations') ?? []) {
        expect(orgById.get(row.id as string)).toEqual({
          id: row.id,
          context_links: row.context_links,
          annual_revenue: row.annual_revenue,
        });
      }
    });
  });
});
