import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../src/db/connect.js';
import { pgFields, withClient, withTransaction } from '../src/db/connect.js';
import { DumpFilter } from '../src/db/pg-dump-filter.js';
import { SqlScanner } from '../src/db/sql-scanner.js';
import type { ScriptStatement } from '../src/db/sql-script.js';
import { runSqlScript, SqlScriptError } from '../src/db/sql-script.js';
import { createTestDatabase } from './support/db.js';
import { tempDir } from './support/tmp.js';

/** Splits a script with the scanner alone: statements (with first line) and meta-commands. */
function split(text: string): { sql: string; line: number }[] {
  const scanner = new SqlScanner();
  const out: { sql: string; line: number }[] = [];
  text.split('\n').forEach((line, i) => {
    for (let pos = 0; ;) {
      const r = scanner.scan(line, i + 1, pos);
      if (r === null) break;
      if (r.kind === 'meta') {
        out.push({ sql: `\\${r.name} ${r.args}`.trim(), line: r.line });
        break;
      }
      out.push({ sql: r.sql, line: r.line });
      pos = r.end;
    }
  });
  const last = scanner.finish();
  if (last) out.push(last);
  return out;
}

const sqls = (text: string): string[] => split(text).map((s) => s.sql);

describe('statement splitter', () => {
  it('does not split inside strings, quoted identifiers and comments', () => {
    expect(sqls(`select 'a;b'; select "x;""y" from t;`)).toEqual([`select 'a;b';`, `select "x;""y" from t;`]);
    expect(sqls(`select 1 -- ; not the end\n;\nselect 2;`)).toEqual([
      `select 1 -- ; not the end\n;`,
      'select 2;',
    ]);
    expect(sqls(`/* a /* nested; */ still; comment */ select 1; /* trailing */`)).toEqual(['select 1;']);
    expect(sqls(`select 1 /* x /* y */ ; */ + 1;`)).toEqual([`select 1 /* x /* y */ ; */ + 1;`]);
  });

  it('handles E strings with backslash escapes, and standard strings where a backslash is literal', () => {
    expect(sqls(`select E'it\\'s; fine'; select 2;`)).toEqual([`select E'it\\'s; fine';`, 'select 2;']);
    expect(sqls(`select E'\\\\'; select 2;`)).toEqual([`select E'\\\\';`, 'select 2;']);
    expect(sqls(`select e'a''b;\\'';`)).toEqual([`select e'a''b;\\'';`]);
    // standard_conforming_strings: 'a\' is a complete string.
    expect(sqls(`select 'a\\'; select 2;`)).toEqual([`select 'a\\';`, 'select 2;']);
    // "e" at the end of an identifier is not an E-string prefix.
    expect(sqls(`select some'a\\'; select 2;`)).toEqual([`select some'a\\';`, 'select 2;']);
  });

  it('handles dollar quotes, with tags, across lines, next to $n parameters and $ in identifiers', () => {
    const fn = [
      'create function f() returns int language plpgsql as $body$',
      'begin',
      '  perform $$ ; $$;',
      '  return 1; -- ;',
      'end;',
      '$body$;',
      'select 2;',
    ].join('\n');
    const r = split(fn);
    expect(r.map((s) => s.line)).toEqual([1, 7]);
    expect(r[0]!.sql).toBe(fn.slice(0, fn.indexOf('$body$;') + 7));
    expect(sqls(`select $a$ $b$ ; $b$ ; $a$; select 2;`)).toEqual([
      `select $a$ $b$ ; $b$ ; $a$;`,
      'select 2;',
    ]);
    expect(sqls(`prepare p as select $1; execute p(1);`)).toEqual([
      'prepare p as select $1;',
      'execute p(1);',
    ]);
    expect(sqls(`select a$b$c from t; select 2;`)).toEqual(['select a$b$c from t;', 'select 2;']);
  });

  it('keeps ; inside parentheses and inside BEGIN ATOMIC bodies (psql rules)', () => {
    expect(
      sqls(
        `create rule r as on insert to t do also (insert into a values (1); insert into b values (2)); select 1;`,
      ),
    ).toHaveLength(2);
    const atomic = `create or replace function f() returns int language sql\nbegin atomic\n  select case when true then 1 end;\n  select 2;\nend;\nselect 3;`;
    expect(sqls(atomic)).toEqual([atomic.slice(0, atomic.indexOf('\nend;') + 5), 'select 3;']);
    // A plain BEGIN is a statement of its own.
    expect(sqls('begin; select 1; commit;')).toEqual(['begin;', 'select 1;', 'commit;']);
  });

  it('reports the first line of each statement, meta-commands, and a final statement without ;', () => {
    const r = split(`-- header\n\n\\restrict KEY\nselect 1;\n\nselect\n  2;  select 3\n`);
    expect(r).toEqual([
      { sql: '\\restrict KEY', line: 3 },
      { sql: 'select 1;', line: 4 },
      { sql: 'select\n  2;', line: 6 },
      { sql: 'select 3', line: 7 },
    ]);
  });

  it('keeps a raw carriage return inside a string literal', () => {
    expect(sqls(`insert into t values ('a\rb');`)).toEqual([`insert into t values ('a\rb');`]);
  });
});

describe('runSqlScript', () => {
  let url: string;
  const dir = tempDir('script');
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const inTx = <T>(fn: (c: Client) => Promise<T>): Promise<T> =>
    withClient(url, (c) => withTransaction(c, () => fn(c)));

  beforeAll(async () => {
    url = await createTestDatabase({ template: 'empty' });
    await withClient(url, (c) =>
      c.query(`create table "Mixed Case" (id int primary key, t text, tags text[], j jsonb);
               create table seq_t (id bigint generated by default as identity primary key, v text);`),
    );
  });

  it('runs statements and COPY blocks with every escape, and ignores \\restrict', async () => {
    const script = [
      '\\restrict abc123',
      "SET client_encoding = 'UTF8';",
      'SET standard_conforming_strings = on;',
      'TRUNCATE TABLE "Mixed Case";',
      'COPY public."Mixed Case" (id, t, tags, j) FROM stdin;',
      '1\ttab\\there\\nnewline\\\\backslash\t{a,"b c"}\t{"k": "v"}',
      '2\t\\N\t{}\t\\N',
      '3\t\t{"x,y"}\t[]',
      '4\tünïcødé 🎉 ; -- not a comment\t\\N\t{"s": "\\\\\\\\."}',
      '\\.',
      "INSERT INTO seq_t (v) VALUES ('a;b'), (E'c\\nd');",
      "SELECT pg_catalog.setval('public.seq_t_id_seq', 42, true);",
      '\\unrestrict abc123',
      '',
    ].join('\n');
    const seen: ScriptStatement[] = [];
    const r = await inTx((c) =>
      runSqlScript(c, file('ok.sql', script), { onStatement: (s) => seen.push(s) }),
    );
    expect(r).toEqual({ statements: 6, copiedRows: 4 });
    expect(seen.find((s) => s.copyRows !== null)).toMatchObject({ line: 5, copyRows: 4 });
    await withClient(url, async (c) => {
      const { rows } = await c.query(`select id, t, tags, j from "Mixed Case" order by id`);
      expect(rows).toEqual([
        { id: 1, t: 'tab\there\nnewline\\backslash', tags: ['a', 'b c'], j: { k: 'v' } },
        { id: 2, t: null, tags: [], j: null },
        { id: 3, t: '', tags: ['x,y'], j: [] },
        { id: 4, t: 'ünïcødé 🎉 ; -- not a comment', tags: null, j: { s: '\\.' } },
      ]);
      const seq = await c.query(`select last_value::int as v from seq_t_id_seq`);
      expect(seq.rows[0].v).toBe(42);
      const v = await c.query(`select v from seq_t order by id`);
      expect(v.rows.map((x) => x.v)).toEqual(['a;b', 'c\nd']);
    });
  });

  it('names the file line of a bad COPY data line and of a failing statement', async () => {
    const bad = file(
      'bad-copy.sql',
      ['-- x', 'COPY "Mixed Case" (id, t) FROM stdin;', '10\ta', '11\tb', 'x\tc', '\\.'].join('\n'),
    );
    const err = await inTx((c) => runSqlScript(c, bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqlScriptError);
    expect(err).toMatchObject({ file: bad, line: 5 });
    expect(pgFields((err as SqlScriptError).cause).code).toBe('22P02'); // invalid_text_representation

    const stmt = file('bad-stmt.sql', 'select 1;\n\nselect\n  1 +\n  no_such_column;\n');
    const err2 = await inTx((c) => runSqlScript(c, stmt)).catch((e: unknown) => e);
    expect((err2 as SqlScriptError).line).toBe(5);
    expect((err2 as Error).message).toContain('no_such_column');
  });

  it('rejects other meta-commands and transaction control, naming the line, before running them', async () => {
    const meta = file('meta.sql', 'select 1;\n\\connect other\nselect 2;\n');
    await expect(inTx((c) => runSqlScript(c, meta))).rejects.toMatchObject({
      file: meta,
      line: 2,
      reason: expect.stringContaining('\\connect'),
    });
    const tx = file('tx.sql', 'select 1;\ncommit;\n');
    await expect(inTx((c) => runSqlScript(c, tx))).rejects.toMatchObject({
      file: tx,
      line: 2,
      reason: expect.stringContaining('COMMIT'),
    });
    const unterminated = file('open.sql', 'COPY "Mixed Case" (id) FROM stdin;\n5\n');
    await expect(inTx((c) => runSqlScript(c, unterminated))).rejects.toMatchObject({ file: unterminated });
    const quote = file('quote.sql', "select 'abc;\n");
    await expect(inTx((c) => runSqlScript(c, quote))).rejects.toMatchObject({ file: quote, line: 1 });
  });

  it('streams a large COPY from a stream source without holding it', async () => {
    const rows = 200_000;
    async function* gen(): AsyncGenerator<string> {
      yield 'COPY seq_t (id, v) FROM stdin;\n';
      for (let i = 0; i < rows; i += 1000) {
        let chunk = '';
        for (let j = i; j < i + 1000; j++) chunk += `${j + 1000}\tvalue number ${j} with some padding text\n`;
        yield chunk;
      }
      yield '\\.\nselect 1\n';
    }
    const r = await inTx((c) => runSqlScript(c, Readable.from(gen())));
    expect(r).toEqual({ statements: 2, copiedRows: rows });
  });
});

describe('pg_dump output filter', () => {
  const run = (lines: string[], beforeData?: string): string[] => {
    const f = new DumpFilter({ beforeData });
    const out = lines.map((l) => f.line(l)).filter((l): l is string => l !== null);
    const reset = f.aclReset();
    return reset ? [...out, reset] : out;
  };

  it('keeps schemas, drops \\restrict, leaves COPY data alone and resets re-created objects before their grants', () => {
    const out = run(
      [
        '\\restrict KEY',
        'DROP TABLE IF EXISTS public."contactNotes";',
        'DROP SCHEMA IF EXISTS public;',
        '-- Name: public; Type: SCHEMA; Schema: -; Owner: -',
        'CREATE SCHEMA public;',
        '-- Name: supabase_migrations; Type: SCHEMA; Schema: -; Owner: -',
        'CREATE SCHEMA supabase_migrations;',
        '-- Name: contactNotes; Type: TABLE; Schema: public; Owner: -',
        'CREATE TABLE public."contactNotes" (id uuid);',
        '-- Name: f(text, integer); Type: FUNCTION; Schema: public; Owner: -',
        '-- Data for Name: contactNotes; Type: TABLE DATA; Schema: public; Owner: -',
        'COPY public."contactNotes" (id) FROM stdin;',
        'DROP SCHEMA IF EXISTS public;',
        '-- Name: x; Type: EXTENSION; Schema: -; Owner: -',
        '\\.',
        '-- Name: pgcrypto; Type: EXTENSION; Schema: -; Owner: -',
        'CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;',
        '-- Name: TABLE contactNotes; Type: ACL; Schema: public; Owner: -',
        'GRANT SELECT ON TABLE public."contactNotes" TO authenticated;',
        '-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres',
        'ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon;',
        '\\unrestrict KEY',
      ],
      'TRUNCATE TABLE x;',
    );
    const text = out.join('\n');
    expect(text).not.toMatch(/^\\(un)?restrict/m);
    expect(text).toMatch(/^DROP TABLE IF EXISTS public."contactNotes";$/m);
    // The public schema is kept: its DROP is commented out.
    expect(text).toMatch(/^-- .*DROP SCHEMA IF EXISTS public;$/m);
    // Schemas are created only when missing; their own entries run only then.
    expect(text).toMatch(
      /^DO .* IF pg_catalog\.to_regnamespace\('public'\) IS NULL THEN CREATE SCHEMA public; /m,
    );
    expect(text).toMatch(
      /^DO .*to_regnamespace\('supabase_migrations'\) IS NULL THEN CREATE SCHEMA supabase_migrations;/m,
    );
    // Inside COPY data nothing is interpreted.
    expect(text).toMatch(
      /FROM stdin;\nDROP SCHEMA IF EXISTS public;\n-- Name: x; Type: EXTENSION; Schema: -; Owner: -\n\\\.\n/,
    );
    // Extensions are left to Supabase: commented out.
    expect(text).toMatch(/^-- .*CREATE EXTENSION IF NOT EXISTS pgcrypto/m);
    expect(text).not.toMatch(/^CREATE EXTENSION/m);
    expect(text).toMatch(
      /^DO .*IF 'public' = ANY .* AND EXISTS \(SELECT FROM pg_catalog\.pg_roles r WHERE r\.rolname = 'supabase_admin' .* THEN EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon'; END IF;/m,
    );
    expect(text.indexOf('TRUNCATE TABLE x;')).toBeLessThan(text.indexOf('COPY public."contactNotes"'));
    const reset = text.indexOf('DO $crm_env_acl$');
    expect(reset).toBeGreaterThan(text.indexOf('CREATE EXTENSION'));
    expect(reset).toBeLessThan(text.indexOf('GRANT SELECT ON TABLE'));
    expect(text).toContain(`(VALUES ('public', 'contactNotes'))`);
    expect(text).toContain(`(VALUES ('public', 'f', '(text, integer)'))`);
  });
});
