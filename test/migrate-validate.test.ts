import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { RULES } from '../src/migration/lint-rules.js';
import { migrateUp } from '../src/migration/runner.js';
import { validateExitCode, validateMigrations } from '../src/migration/validate.js';
import { createTestDatabase, superuserUrl } from './support/db.js';
import { testConfig } from './support/config.js';
import { cliDbUrl, migrationProject, supabaseCli, tableSql } from './support/migration-project.js';

const V1 = '20990101000001_one.sql';
const V2 = '20990101000002_two.sql';

/** A database name on the local test server that the rehearsal may create its throwaway database next to. */
const localDb = (): Promise<string> => createTestDatabase({ template: 'empty' });

/** Whether the rehearsal's throwaway database is still there (it must have been dropped). */
async function stillThere(url: string, database: string | undefined): Promise<boolean> {
  expect(database).toMatch(/^crm_env_rehearsal_[0-9a-f]{12}$/);
  return withClient(
    url,
    async (c) => (await c.query(`select 1 from pg_database where datname = $1`, [database])).rowCount === 1,
  );
}

describe.concurrent('migrate validate', () => {
  it("passes the project's own migrations: no findings, rehearsal and post-checks ok", async () => {
    const config = testConfig({ local: await localDb() });
    const report = await validateMigrations(config);
    expect(report.files.map((f) => [f.fileName, f.status, f.findings])).toEqual(
      report.files.map((f) => [f.fileName, 'ok', []]),
    );
    expect(report.other).toEqual([]);
    expect(report.rehearsal.status).toBe('ok');
    expect(report.rehearsal.postChecks?.ok).toBe(true);
    expect(report.rehearsal.files.every((f) => f.status === 'applied' && typeof f.ms === 'number')).toBe(
      true,
    );
    expect([report.errors, report.warnings, validateExitCode(report, true)]).toEqual([0, 0, 0]);
    expect(await stillThere(config.local.url, report.rehearsal.database)).toBe(false);
  });

  it('compares with a target that has everything applied: nothing pending, nothing edited', async () => {
    const target = await createTestDatabase({ template: 'crm' });
    const config = testConfig({ local: target });
    const report = await validateMigrations(config, { target: config.local, rehearsal: false });
    expect(report.target).toEqual({ label: 'local', applied: 3, pending: [] });
    expect(report.errors).toBe(0);
    expect(report.files.every((f) => f.applied === true)).toBe(true);
  });

  it('finds every lint rule of the dangerous fixture, chaining the tables of the earlier file (exit 1)', async () => {
    const existing = [
      tableSql('contacts').replace('note text', 'note text, phone text, email text, fax text'),
      tableSql('deals').replace(
        'note text',
        'note text, stage text, code text, amount int, contact_id bigint, owner_id uuid, legacy_amount int',
      ),
      tableSql('activities'),
      'create schema crm;\ncreate table crm.audit_log (id int);\n',
    ].join('');
    const dangerous = await readFile(new URL('./fixtures/lint/dangerous.sql', import.meta.url), 'utf8');
    const p = migrationProject(
      { [V1]: existing, '20990101000002_dangerous.sql': dangerous },
      { local: await localDb() },
    );
    const report = await validateMigrations(p.config, { rehearsal: false });
    const lintRules = report.files[1]!.findings.map((f) => f.rule);
    expect(new Set(lintRules)).toEqual(new Set(Object.keys(RULES)));
    expect(report.files[0]!.findings).toEqual([]);
    expect(validateExitCode(report)).toBe(1);
  });

  it('reports a migration edited after it was applied, but not comment or layout changes (history written by the Supabase CLI)', async () => {
    const target = await createTestDatabase({ template: 'base' });
    const p = migrationProject(
      { [V1]: `-- first\n${tableSql('one')}`, [V2]: tableSql('two') },
      { local: await localDb() },
    );
    await supabaseCli(['db', 'push', '--db-url', cliDbUrl(target), '--yes'], p.dir);
    const t = { label: 'custom' as const, url: target, source: 'argument' as const };

    p.write(
      V1,
      `-- first, now with a longer comment\n\n${tableSql('one').replace(/ /g, '   ').replace(/\n/g, '\n\n')}`,
    );
    const cosmetic = await validateMigrations(p.config, { target: t, rehearsal: false });
    expect(cosmetic.errors).toBe(0);

    p.write(V1, `${tableSql('one')}alter table public.one add column sneaky int;\n`);
    const edited = await validateMigrations(p.config, { target: t, rehearsal: false });
    expect(edited.files[0]!.findings.map((f) => [f.rule, f.severity])).toEqual([
      ['changed-after-apply', 'error'],
    ]);
    expect(edited.files[0]!.findings[0]!.message).toContain(V1);
    expect(validateExitCode(edited)).toBe(1);
  });

  it('reports bad names, duplicate versions, transaction control and parse errors', async () => {
    const p = migrationProject(
      {
        [V1]: tableSql('one'),
        '20990101000001_same_version.sql': tableSql('same'),
        '2099_short.sql': tableSql('short'),
        'notes.txt': 'not a migration',
        [V2]: `begin;\n${tableSql('two')}commit;\n`,
        '20990101000003_broken.sql': 'create table public.x (id int;\n',
      },
      { local: await localDb() },
    );
    const report = await validateMigrations(p.config);
    const all = [...report.files.flatMap((f) => f.findings), ...report.other].map(
      (f) => `${f.file}:${f.line}:${f.rule}:${f.severity}`,
    );
    expect(all).toEqual(
      expect.arrayContaining([
        '2099_short.sql:1:file-name:error',
        'notes.txt:1:file-name:warning',
        '20990101000001_same_version.sql:1:duplicate-version:error',
        `${V2}:1:transaction-control:error`,
        `${V2}:5:transaction-control:error`,
        '20990101000003_broken.sql:1:parse-error:error',
      ]),
    );
    expect(report.rehearsal.status).toBe('skipped'); // it would only repeat the parse error
    expect(validateExitCode(report)).toBe(1);
  });

  it('rehearses from scratch: a migration that fails on the server is an error with its line', async () => {
    const local = await localDb();
    const p = migrationProject(
      { [V1]: tableSql('one'), [V2]: '-- oops\nalter table public.missing add column x int;\n' },
      { local },
    );
    const report = await validateMigrations(p.config);
    expect(report.rehearsal.status).toBe('failed');
    expect(report.files[1]!.findings.map((f) => [f.rule, f.line])).toEqual([['rehearsal-failed', 2]]);
    expect(report.files[1]!.rehearsal?.status).toBe('failed');
    expect(report.files[0]!.rehearsal?.status).toBe('rolled-back');
    expect(validateExitCode(report)).toBe(1);
    expect(await stillThere(local, report.rehearsal.database)).toBe(false);
  });

  it('rehearses the post-migration checks too: a table without a policy fails validation', async () => {
    const sql =
      'create table public.locked (id int);\nalter table public.locked enable row level security;\n';
    const p = migrationProject({ [V1]: sql }, { local: await localDb() });
    const report = await validateMigrations(p.config);
    expect(report.rehearsal.status).toBe('failed');
    expect(report.other.map((f) => f.rule)).toEqual(['post-check:policies']);
    expect(validateExitCode(report)).toBe(1);
  });

  it.each([
    ['may not create databases', 'nocreatedb'],
    ['cannot get a superuser for the base schema', 'createdb'],
  ])('skips the rehearsal with a warning when the local role %s', async (_, attribute) => {
    const db = await localDb();
    const role = `r_${randomBytes(5).toString('hex')}`;
    await withClient(superuserUrl(db), (c) =>
      c.query(`create role ${role} login ${attribute} password 'pw-${role}'`),
    );
    try {
      const u = new URL(db);
      u.username = role;
      u.password = `pw-${role}`;
      const p = migrationProject({ [V1]: tableSql('one') }, { local: u.toString() });
      const report = await validateMigrations(p.config);
      expect(report.rehearsal.status).toBe('skipped');
      expect(report.rehearsal.reason).not.toContain(`pw-${role}`);
      expect([report.errors, report.warnings]).toEqual([0, 1]);
      expect(validateExitCode(report)).toBe(0);
      expect(validateExitCode(report, true)).toBe(1);
    } finally {
      // The throwaway database (owned by the role) is gone, so the role owns nothing.
      await withClient(superuserUrl(db), (c) => c.query(`drop role ${role}`));
    }
  });

  it('lints pending files against the target’s real tables', async () => {
    const target = await createTestDatabase({ template: 'base' });
    const p = migrationProject({ [V1]: tableSql('one') }, { local: await localDb() });
    await migrateUp(target, p.migrationsDir);
    p.write(V2, 'create index one_note_idx on public.one (note);\n');
    const report = await validateMigrations(p.config, {
      target: { label: 'custom', url: target, source: 'argument' },
      rehearsal: false,
    });
    expect(report.target?.pending).toEqual([V2]);
    expect(report.files[1]!.findings.map((f) => f.rule)).toEqual(['require-concurrent-index-creation']);
    expect([
      report.errors,
      report.warnings,
      validateExitCode(report),
      validateExitCode(report, true),
    ]).toEqual([0, 1, 0, 1]);
  });

  it('passes a correct CONCURRENTLY file under --strict (rehearsed on its own); a file that mixes one in warns', async () => {
    const cic = 'create index concurrently if not exists one_note_idx on public.one (note);\n';
    const p = migrationProject({ [V1]: tableSql('one'), [V2]: cic }, { local: await localDb() });
    const report = await validateMigrations(p.config);
    expect(report.rehearsal.status).toBe('ok');
    expect(
      report.rehearsal.files.map((f) => [f.fileName, f.status, f.outsideTransaction?.[0]?.what]),
    ).toEqual([
      [V1, 'applied', undefined],
      [V2, 'applied', 'CREATE INDEX CONCURRENTLY'],
    ]);
    expect([report.errors, report.warnings, validateExitCode(report, true)]).toEqual([0, 0, 0]);

    p.write(V2, `comment on table public.one is 'x';\n${cic}`);
    const mixed = await validateMigrations(p.config, { rehearsal: false });
    expect(mixed.files[1]!.findings.map((f) => [f.rule, f.line])).toEqual([
      ['concurrently-in-transaction', 2],
    ]);
    expect(validateExitCode(mixed, true)).toBe(1);
  });
});
