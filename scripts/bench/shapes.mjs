/**
 * The bench's two schema shapes of issue 16 ("speed on shapes"), each in its own database on both
 * servers (Supabase base schema, no CRM tables), data on local only:
 *
 *   many-tables  `count` small tables (`rows` rows each, every tenth referencing the one before)
 *   wide-table   one table of `rows` rows, each with `textBytes` of text
 */
import { withClient } from '../../dist/db/connect.js';
import { applyBaseSchema } from '../../dist/stack/base-schema.js';
import { serverUrl } from '../../dist/stack/server.js';

const name = (i) => `t${String(i).padStart(3, '0')}`;

function manyTablesSchema(count) {
  const out = [];
  for (let i = 1; i <= count; i++) {
    const ref = i % 10 === 0 ? `, parent_id bigint references public.${name(i - 1)} (id)` : '';
    out.push(
      `create table public.${name(i)} (id bigint primary key, label text not null, amount numeric(12, 2),
         flags boolean not null default false, created_at timestamptz not null default now()${ref})`,
    );
  }
  return out.join(';\n');
}

function manyTablesData(count, rows) {
  const out = [];
  for (let i = 1; i <= count; i++) {
    const ref = i % 10 === 0 ? ', parent_id' : '';
    const refValue = i % 10 === 0 ? ', 1 + g % ' + rows : '';
    out.push(
      `insert into public.${name(i)} (id, label, amount, flags, created_at${ref})
       select g, 'row ' || g || ' of ${name(i)}', g * 1.25, g % 2 = 0,
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'${refValue}
         from generate_series(1, ${rows}) g`,
    );
  }
  return out.join(';\n');
}

const WIDE_SCHEMA = `create table public.documents (id bigint primary key, title text not null, body text not null,
  created_at timestamptz not null)`;

/** 2 KB of text per row by default; md5 runs, so TOAST compresses it about as well as prose. */
function wideData(rows, textBytes) {
  const reps = Math.ceil(textBytes / 32);
  return `insert into public.documents (id, title, body, created_at)
    select g, 'Document ' || g, left(repeat(md5(g::text), ${reps}), ${textBytes}),
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
      from generate_series(1, ${rows}) g`;
}

export const SHAPES = {
  'many-tables': {
    db: 'bench_many',
    schema: ({ tables }) => manyTablesSchema(tables),
    data: ({ tables, rows }) => manyTablesData(tables, rows),
  },
  'wide-table': {
    db: 'bench_wide',
    schema: () => WIDE_SCHEMA,
    data: ({ rows, textBytes }) => wideData(rows, textBytes),
  },
};

/** Creates the shape's database on both servers (base schema + the shape's tables) and fills local. */
export async function buildShape(localSpec, cloudSpec, shape, params) {
  const s = SHAPES[shape];
  await Promise.all(
    [localSpec, cloudSpec].map(async (spec) => {
      await withClient(serverUrl(spec, 'postgres', 'supabase_admin'), (c) =>
        c.query(`create database ${s.db} owner postgres`),
      );
      await applyBaseSchema(serverUrl(spec, s.db, 'supabase_admin'));
      await withClient(serverUrl(spec, s.db), (c) => c.query(s.schema(params)));
    }),
  );
  await withClient(serverUrl(localSpec, s.db), async (c) => {
    await c.query(s.data(params));
    await c.query('vacuum analyze');
  });
  return s.db;
}
