import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { readMigrations } from '../src/migration/files.js';
import type { PostCheckReport } from '../src/migration/post-checks.js';
import { expectedTables, runPostChecks } from '../src/migration/post-checks.js';
import { createTestDatabase } from './support/db.js';

const files = async () => (await readMigrations(path.resolve('supabase/migrations'))).files;

/** Runs the checks after `setup` on a fresh copy of the full CRM schema. */
async function checksAfter(setup: string): Promise<PostCheckReport> {
  const url = await createTestDatabase({ template: 'crm' });
  return withClient(url, async (c) => {
    if (setup) await c.query(setup);
    return runPostChecks(c, await files());
  });
}

const failing = (r: PostCheckReport): string[] => r.checks.filter((c) => !c.ok).map((c) => c.name);

describe('post-migration checks', () => {
  it('pass on the CRM schema as the migrations build it', async () => {
    const report = await checksAfter('');
    expect(report.checks.map((c) => c.name)).toEqual([
      'rls-enabled',
      'policies',
      'expected-tables',
      'history-matches-files',
    ]);
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('derive the expected tables from the migration files, not from a list', async () => {
    const expected = await expectedTables(await files());
    expect(expected).toContain('public.contactNotes');
    expect(expected).toContain('public.test_user_metadata');
    // The contract in docs/design/crm-schema.md lists 13 tables.
    expect(expected.filter((t) => t.startsWith('public.'))).toHaveLength(13);
  });

  it('fail on a public table without row-level security (and so without policies)', async () => {
    const report = await checksAfter('create table public.leaky (id int)');
    expect(failing(report)).toEqual(['rls-enabled', 'policies']);
    expect(report.ok).toBe(false);
    expect(report.checks[0]!.detail).toContain('public.leaky');
  });

  it('fail on a table with RLS but no policy', async () => {
    const report = await checksAfter(
      'create table public.locked (id int); alter table public.locked enable row level security',
    );
    expect(failing(report)).toEqual(['policies']);
    expect(report.checks[1]!.detail).toContain('public.locked');
  });

  it('ignore tables outside public for RLS', async () => {
    const report = await checksAfter('create schema private; create table private.settings (k text)');
    expect(report.ok).toBe(true);
  });

  it('fail when a table the migrations create is missing', async () => {
    const report = await checksAfter('drop table public.test_user_metadata');
    expect(failing(report)).toEqual(['expected-tables']);
    expect(report.checks[2]!.detail).toContain('public.test_user_metadata');
  });

  it('fail when the history and the files disagree, either way', async () => {
    const all = await files();
    const report = await checksAfter(
      `delete from supabase_migrations.schema_migrations where version = '${all.at(-1)!.version}';
       insert into supabase_migrations.schema_migrations (version, name) values ('20990101000000', 'ghost')`,
    );
    expect(failing(report)).toEqual(['history-matches-files']);
    expect(report.checks[3]!.detail).toContain(all.at(-1)!.version);
    expect(report.checks[3]!.detail).toContain('20990101000000');
  });
});
