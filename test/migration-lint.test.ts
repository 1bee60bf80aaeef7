import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  lintMigration,
  MigrationParseError,
  parseMigration,
  tablesAfterMigration,
  type LintFinding,
} from '../src/migration/lint.js';
import type { ColumnType } from '../src/migration/column-types.js';
import { typeFromCatalog } from '../src/migration/column-types.js';
import { RULES } from '../src/migration/lint-rules.js';

const EXISTING = new Set(['public.contacts', 'public.deals', 'public.activities', 'crm.audit_log']);
const fixture = fileURLToPath(new URL('./fixtures/lint/dangerous.sql', import.meta.url));

/** [rule, line] pairs, the shape most assertions compare. */
const pairs = (findings: LintFinding[]): [string, number][] => findings.map((f) => [f.rule, f.line]);
const lint = async (sql: string, existing: Iterable<string> = EXISTING): Promise<[string, number][]> =>
  pairs(await lintMigration('m.sql', sql, new Set(existing)));

describe('lintMigration on the dangerous fixture', () => {
  it('reports every rule exactly once, on the statement line', async () => {
    const findings = await lintMigration('dangerous.sql', await readFile(fixture, 'utf8'), EXISTING);
    expect(pairs(findings)).toEqual([
      ['table-without-rls', 5],
      ['adding-field-with-volatile-default', 7],
      ['adding-required-field', 8],
      ['changing-column-type', 9],
      ['adding-not-null', 10],
      ['constraint-missing-not-valid', 11],
      ['adding-unique-constraint', 12],
      ['require-concurrent-index-creation', 13],
      ['concurrently-in-transaction', 14],
      ['ban-drop-column', 15],
      ['ban-drop-table', 16],
      ['renaming-column', 17],
      ['renaming-table', 18],
      ['ban-truncate', 19],
      ['suppression-without-reason', 20],
      ['unused-suppression', 22],
      ['ban-drop-schema', 24],
      ['ban-drop-cascade', 25],
      ['ban-delete-without-where', 26],
      ['ban-update-without-where', 27],
      ['lossy-column-type-change', 28],
    ]);
    expect(new Set(findings.map((f) => f.rule))).toEqual(new Set(Object.keys(RULES)));
  });

  it('gives each finding the file, the rule severity, a message and a one-line fix', async () => {
    const findings = await lintMigration('dangerous.sql', await readFile(fixture, 'utf8'), EXISTING);
    for (const f of findings) {
      expect(f.file).toBe('dangerous.sql');
      expect(f.severity).toBe(RULES[f.rule as keyof typeof RULES][0]);
      expect(f.message).toMatch(/^\S.*\.$/);
      expect(f.fix).not.toMatch(/\n|\{\d\}/);
      expect(f.fix.length).toBeGreaterThan(10);
    }
    const byRule = new Map(findings.map((f) => [f.rule, f]));
    expect(byRule.get('require-concurrent-index-creation')?.severity).toBe('warning');
    expect(byRule.get('adding-field-with-volatile-default')?.message).toContain('gen_random_uuid()');
    expect(byRule.get('adding-not-null')?.fix).toContain('CHECK (email IS NOT NULL) NOT VALID');
    expect(byRule.get('table-without-rls')?.fix).toContain(
      'ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY',
    );
    expect(byRule.get('ban-drop-table')?.message).toContain('crm.audit_log');
  });
});

describe('suppressions', () => {
  const dropColumn = 'ALTER TABLE contacts DROP COLUMN fax;';

  it('omits a finding suppressed with a reason above the statement or on its first line', async () => {
    expect(
      await lint(
        `-- crm-env-lint-disable-next-statement ban-drop-column: fax unused since 2024\n${dropColumn}`,
      ),
    ).toEqual([]);
    // A comment block directly above still counts, as do /* */ and a trailing comment on the first line.
    expect(
      await lint(
        `-- why:\n-- crm-env-lint-disable-next-statement ban-drop-column: unused\n-- more\n${dropColumn}`,
      ),
    ).toEqual([]);
    expect(
      await lint(`/* crm-env-lint-disable-next-statement ban-drop-column: unused */ ${dropColumn}`),
    ).toEqual([]);
    expect(
      await lint(`${dropColumn} -- crm-env-lint-disable-next-statement ban-drop-column: unused`),
    ).toEqual([]);
    // Several rules in one directive.
    const two = 'ALTER TABLE contacts DROP COLUMN fax, ALTER COLUMN email SET NOT NULL;';
    expect(
      await lint(
        `-- crm-env-lint-disable-next-statement ban-drop-column, adding-not-null: small table\n${two}`,
      ),
    ).toEqual([]);
  });

  it('flags a suppression without a reason and does not honour it', async () => {
    const findings = await lintMigration(
      'm.sql',
      `SELECT 1;\n-- crm-env-lint-disable-next-statement ban-drop-column\n${dropColumn}`,
      EXISTING,
    );
    expect(pairs(findings)).toEqual([
      ['suppression-without-reason', 2],
      ['ban-drop-column', 3],
    ]);
    expect(findings[0]?.severity).toBe('error');
    expect(await lint(`-- crm-env-lint-disable-next-statement ban-drop-column:   \n${dropColumn}`)).toEqual([
      ['suppression-without-reason', 1],
      ['ban-drop-column', 2],
    ]);
    expect(await lint(`-- crm-env-lint-disable-next-statement because I said so\n${dropColumn}`)).toEqual([
      ['suppression-without-reason', 1],
      ['ban-drop-column', 2],
    ]);
  });

  it('only applies to the statement right below it, and the named rule', async () => {
    const directive = '-- crm-env-lint-disable-next-statement ban-drop-column: unused';
    // A blank line detaches it; another rule is not suppressed; an unknown rule name is reported.
    expect(await lint(`${directive}\n\n${dropColumn}`)).toEqual([
      ['unused-suppression', 1],
      ['ban-drop-column', 3],
    ]);
    expect(await lint(`${directive}\nTRUNCATE contacts;`)).toEqual([
      ['unused-suppression', 1],
      ['ban-truncate', 2],
    ]);
    const typo = await lintMigration(
      'm.sql',
      `-- crm-env-lint-disable-next-statement ban-drop-colum: x\n${dropColumn}`,
      EXISTING,
    );
    expect(pairs(typo)).toEqual([
      ['unused-suppression', 1],
      ['ban-drop-column', 2],
    ]);
    expect(typo[0]?.message).toContain('ban-drop-colum'); // names the unknown rule
  });
});

describe('parse errors', () => {
  it('throws MigrationParseError with the file and the line of the error', async () => {
    const sql = 'CREATE TABLE a (id int);\n\n-- Größe 😀\nALTER TABLE a\n  ADD COLUMN b int,,;\n';
    const error = await parseMigration('bad.sql', sql).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationParseError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      file: 'bad.sql',
      line: 5,
      message: expect.stringMatching(/^bad\.sql:5: /),
    });
    await expect(lintMigration('bad.sql', sql, EXISTING)).rejects.toThrow(MigrationParseError);
  });

  it('points an error at end of input to the last line with text', async () => {
    const error = await parseMigration('eof.sql', 'SELECT 1;\nSELECT (1\n\n\n').catch((e: unknown) => e);
    expect(error).toMatchObject({
      file: 'eof.sql',
      line: 2,
      message: expect.stringMatching(/^eof\.sql:2: /),
    });
  });

  it('reports an unterminated string at its start', async () => {
    const error = await parseMigration('q.sql', "SELECT 1;\nSELECT 'abc\n;\n").catch((e: unknown) => e);
    expect(error).toMatchObject({ line: 2 });
  });
});

describe('existing-table rules', () => {
  it('do not flag statements on a table created earlier in the same file', async () => {
    const sql = `CREATE TABLE public.deal_notes (id uuid PRIMARY KEY, deal_id uuid, body text);
ALTER TABLE public.deal_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_notes ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE deal_notes ADD COLUMN kind text NOT NULL;
ALTER TABLE deal_notes ALTER COLUMN body TYPE varchar(500);
ALTER TABLE deal_notes ALTER COLUMN body SET NOT NULL;
ALTER TABLE deal_notes ADD CONSTRAINT deal_fk FOREIGN KEY (deal_id) REFERENCES deals (id);
ALTER TABLE deal_notes ADD CONSTRAINT kind_key UNIQUE (kind);
CREATE INDEX deal_notes_deal_idx ON deal_notes (deal_id);
ALTER TABLE deal_notes DROP COLUMN kind;
ALTER TABLE deal_notes RENAME COLUMN body TO text;
TRUNCATE deal_notes;
ALTER TABLE deal_notes RENAME TO deal_comments;
DROP TABLE deal_comments;`;
    expect(await lint(sql)).toEqual([]);
  });

  it('do not flag tables the target does not have, and compare names case-sensitively', async () => {
    const alter = (name: string): string => `ALTER TABLE ${name} ALTER COLUMN body SET NOT NULL;`;
    expect(await lint(alter('brand_new'))).toEqual([]);
    expect(await lint(alter('"contactNotes"'), ['public.contactNotes'])).toEqual([['adding-not-null', 1]]);
    // Unquoted, the name folds to contactnotes: a different table.
    expect(await lint(alter('contactNotes'), ['public.contactNotes'])).toEqual([]);
    expect(await lint(alter('crm.audit_log'))).toEqual([['adding-not-null', 1]]);
    expect(await lint(alter('audit_log'))).toEqual([]); // public.audit_log, not crm.audit_log
  });

  it('treat a table dropped and recreated in the file as new', async () => {
    const sql = `DROP TABLE contacts;\nCREATE TABLE contacts (id int);\nALTER TABLE contacts ENABLE ROW LEVEL SECURITY;\nCREATE INDEX c_idx ON contacts (id);`;
    expect(await lint(sql)).toEqual([['ban-drop-table', 1]]);
  });
});

describe('data-loss rules', () => {
  const catalog = (cols: Record<string, string>): Map<string, Map<string, ColumnType>> =>
    new Map([['public.t', new Map(Object.entries(cols).map(([c, t]) => [c, typeFromCatalog(t)]))]]);
  const COLUMNS = catalog({
    v: 'character varying(20)',
    n: 'numeric(10,2)',
    i: 'integer',
    ts: 'timestamp(6) with time zone',
    j: 'json',
    tx: 'text',
  });
  /** Rules for one ALTER COLUMN … TYPE on public.t (not an existing table: only data loss is judged). */
  const change = async (column: string, to: string, existing: string[] = []): Promise<string[]> =>
    (
      await lintMigration(
        'm.sql',
        `ALTER TABLE t ALTER COLUMN ${column} TYPE ${to};`,
        new Set(existing),
        COLUMNS,
      )
    ).map((f) => f.rule);

  it('let type changes through that keep every value or fail loudly', async () => {
    for (const [column, to] of [
      ['v', 'text'],
      ['v', 'varchar(40)'],
      ['v', 'varchar(10)'], // checked: a longer value fails the dry run instead of being cut
      ['n', 'numeric(12,2)'],
      ['n', 'numeric'],
      ['i', 'bigint'],
      ['i', 'numeric(6,0)'],
      ['ts', 'text'],
      ['tx', 'integer'], // checked parse: a bad value fails
      ['unknown_column', 'text'],
      ['v', 'text USING v'],
    ]) {
      expect(await change(column!, to!), `${column} → ${to}`).toEqual([]);
    }
  });

  it('flag type changes that round, cut or reinterpret values, and any computed USING', async () => {
    for (const [column, to] of [
      ['n', 'numeric(10,0)'],
      ['n', 'integer'],
      ['ts', 'date'],
      ['ts', 'timestamptz(0)'],
      ['j', 'jsonb'],
      ['i', 'real'],
      ['v', 'varchar(10) USING v::varchar(10)'],
      ['i', 'bigint USING i * 100'],
      ['unknown_column', 'date'],
    ]) {
      expect(await change(column!, to!), `${column} → ${to}`).toEqual(['lossy-column-type-change']);
    }
  });

  it('do not call a widening that keeps the table a rewrite, but still flag one that adds a limit', async () => {
    expect(await change('v', 'text', ['public.t'])).toEqual([]);
    expect(await change('n', 'numeric(14,2)', ['public.t'])).toEqual([]);
    expect(await change('tx', 'varchar(20)', ['public.t'])).toEqual(['changing-column-type']);
    expect(await change('n', 'integer', ['public.t'])).toEqual([
      'lossy-column-type-change',
      'changing-column-type',
    ]);
  });

  it('flag DELETE/UPDATE without WHERE, DROP SCHEMA and CASCADE, except on tables created in the file', async () => {
    expect(await lint('DELETE FROM public.contacts;\nUPDATE deals SET stage = 1;')).toEqual([
      ['ban-delete-without-where', 1],
      ['ban-update-without-where', 2],
    ]);
    expect(await lint('DELETE FROM contacts WHERE true;\nUPDATE deals SET stage = 1 WHERE id = 2;')).toEqual(
      [],
    );
    expect(await lint('drop schema public cascade;')).toEqual([
      ['ban-drop-schema', 1],
      ['ban-drop-cascade', 1],
    ]);
    expect(await lint('DROP TABLE contacts CASCADE;')).toEqual([
      ['ban-drop-table', 1],
      ['ban-drop-cascade', 1],
    ]);
    const local =
      'CREATE TEMP TABLE x (id int);\nDELETE FROM x;\nUPDATE x SET id = 1;\nDROP TABLE x CASCADE;';
    expect(await lint(local)).toEqual([]);
    const suppressed =
      '-- crm-env-lint-disable-next-statement ban-drop-schema, ban-drop-cascade: replaced by the v2 schema\ndrop schema public cascade;';
    expect(await lint(suppressed)).toEqual([]);
  });
});

describe('statements that cannot run in a transaction', () => {
  it('are fine alone in their file and re-runnable; mixed in, or not idempotent, they warn', async () => {
    const cic = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS c_email_idx ON contacts (email);';
    expect(await lint(cic)).toEqual([]);
    expect(
      await lint(`${cic}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS c_phone_idx ON contacts (phone);`),
    ).toEqual([]);
    expect(await lint('DROP INDEX CONCURRENTLY IF EXISTS c_email_idx;')).toEqual([]);
    expect(await lint('REINDEX (CONCURRENTLY) INDEX c_email_idx;')).toEqual([]);
    expect(await lint('CREATE INDEX CONCURRENTLY c_email_idx ON contacts (email);')).toEqual([
      ['concurrently-in-transaction', 1],
    ]);
    expect(await lint('DROP INDEX CONCURRENTLY c_email_idx;')).toEqual([['concurrently-in-transaction', 1]]);
    expect(await lint(`COMMENT ON TABLE contacts IS 'x';\n${cic}`)).toEqual([
      ['concurrently-in-transaction', 2],
    ]);
  });
});

describe('volatile defaults', () => {
  const add = (column: string): string => `ALTER TABLE contacts ADD COLUMN ${column};`;

  it('accept constants and stable functions', async () => {
    for (const column of [
      'a timestamptz DEFAULT now()',
      'a timestamptz DEFAULT current_timestamp',
      "a timestamptz DEFAULT timezone('utc', now())",
      "a jsonb NOT NULL DEFAULT '{}'::jsonb",
      'a uuid DEFAULT auth.uid()',
      'a int GENERATED ALWAYS AS (1) VIRTUAL',
    ]) {
      expect(await lint(add(column)), column).toEqual([]);
    }
  });

  it('flag volatile, unknown and sequence-backed defaults', async () => {
    for (const column of [
      'a timestamptz DEFAULT clock_timestamp()',
      'a double precision DEFAULT random()',
      'a uuid DEFAULT extensions.uuid_generate_v4()',
      "a bigint DEFAULT nextval('s')",
      'a text DEFAULT my_schema.make_code()',
      'a bigserial',
      'a bigint GENERATED ALWAYS AS IDENTITY',
      'a int GENERATED ALWAYS AS (1) STORED',
    ]) {
      expect(await lint(add(column)), column).toEqual([['adding-field-with-volatile-default', 1]]);
    }
  });
});

describe('table-without-rls', () => {
  it('is satisfied by ENABLE ROW LEVEL SECURITY anywhere in the file, and skips non-public and temp tables', async () => {
    expect(await lint('CREATE TABLE x (id int);\nALTER TABLE public.x ENABLE ROW LEVEL SECURITY;')).toEqual(
      [],
    );
    expect(await lint('CREATE TABLE crm.x (id int);')).toEqual([]);
    expect(await lint('CREATE TEMP TABLE x (id int);')).toEqual([]);
    expect(await lint('CREATE TABLE x AS SELECT 1 AS id;')).toEqual([['table-without-rls', 1]]);
    // Enabling it on another table, or only FORCE, does not count.
    for (const other of [
      'ALTER TABLE y ENABLE ROW LEVEL SECURITY',
      'ALTER TABLE x FORCE ROW LEVEL SECURITY',
    ]) {
      expect(await lint(`CREATE TABLE x (id int);\n${other};`)).toEqual([['table-without-rls', 1]]);
    }
  });
});

describe('line numbers', () => {
  it('are not shifted by non-ASCII text before a statement', async () => {
    const sql = [
      '-- Größe ändern: ünïcödé — 😀🎉 façade',
      "COMMENT ON TABLE contacts IS 'Kontakte für Ärzte 😀';",
      '/* mehrzeilig',
      '   ✓ 日本語 */',
      '',
      '   ALTER TABLE contacts',
      '     ALTER COLUMN email SET NOT NULL; -- 😀',
      "SELECT '😀'; ALTER TABLE contacts DROP COLUMN fax;",
    ].join('\n');
    expect(await lint(sql)).toEqual([
      ['adding-not-null', 6],
      ['ban-drop-column', 8],
    ]);
    const statements = await parseMigration('m.sql', sql);
    expect(statements.map((s) => [s.line, s.sql])).toEqual([
      [2, "COMMENT ON TABLE contacts IS 'Kontakte für Ärzte 😀'"],
      [6, 'ALTER TABLE contacts\n     ALTER COLUMN email SET NOT NULL'],
      [8, "SELECT '😀'"],
      [8, 'ALTER TABLE contacts DROP COLUMN fax'],
    ]);
  });
});

describe('parseMigration', () => {
  it('returns each statement without comments or semicolon, with its AST', async () => {
    const statements = await parseMigration('m.sql', 'BEGIN;\n-- note\nSELECT 1 -- trailing\n;\nCOMMIT');
    expect(statements.map((s) => [s.line, s.sql])).toEqual([
      [1, 'BEGIN'],
      [3, 'SELECT 1'],
      [5, 'COMMIT'],
    ]);
    expect(statements[1]?.ast).toHaveProperty('SelectStmt');
  });

  it('accepts empty and comment-only files', async () => {
    expect(await parseMigration('m.sql', '')).toEqual([]);
    expect(await parseMigration('m.sql', '  \n-- nothing yet\n')).toEqual([]);
    expect(await lintMigration('m.sql', '', EXISTING)).toEqual([]);
  });
});

describe('tablesAfterMigration', () => {
  it('applies creates, drops and renames so the next file sees them', async () => {
    const sql =
      'CREATE TABLE a (id int);\nCREATE TABLE crm.b (id int);\nDROP TABLE deals;\nALTER TABLE activities RENAME TO events;';
    const after = await tablesAfterMigration('m.sql', sql, EXISTING);
    expect([...after].sort()).toEqual([
      'crm.audit_log',
      'crm.b',
      'public.a',
      'public.contacts',
      'public.events',
    ]);
    // Folded into the next file, the renamed table counts as existing.
    expect(await lint('ALTER TABLE events ALTER COLUMN x SET NOT NULL;', after)).toEqual([
      ['adding-not-null', 1],
    ]);
  });
});
