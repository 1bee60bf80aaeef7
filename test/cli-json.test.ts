/**
 * `--json` from the real commands on real databases: every command prints one JSON document with
 * `ok`, `exitCode` and `error`, on success and on failure (the stack commands and the demo are in
 * stack.test.ts, migrate backup in backup-restore.test.ts). Then `migrate status` and `migrate new` in detail.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, leafCommands } from '../src/cli/program.js';
import { UsageError } from '../src/errors.js';
import { STRICT_MIGRATION_FILE } from '../src/migration/files.js';
import { createMigrationFile, migrationName } from '../src/migration/new-file.js';
import { migrateUp } from '../src/migration/runner.js';
import { runMain, tempProject } from './support/cli.js';
import { createDatabasePair } from './support/db.js';
import { exec } from './support/fixtures.js';

interface Doc {
  ok: boolean;
  exitCode: number;
  command: string;
  error: string | null;
  [key: string]: unknown;
}

describe('every command with --json, on one pair of databases', () => {
  it('prints one parseable document with ok/exitCode/error, on success and on failure', async () => {
    const { local, cloud } = await createDatabasePair();
    const cwd = tempProject();
    const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const commands = new Set(leafCommands(buildProgram()).map((c) => c.path));
    const json = async (argv: readonly string[], code: number): Promise<Doc> => {
      const r = await runMain([...argv, '--json'], { cwd, env });
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(code);
      const doc = JSON.parse(r.stdout) as Doc;
      const command = commands.has(argv.slice(0, 2).join(' ')) ? argv.slice(0, 2).join(' ') : argv[0];
      expect(doc).toMatchObject({ ok: code === 0, exitCode: code, command });
      if (code === 2) expect(doc.error).toEqual(expect.any(String));
      return doc;
    };

    expect((await json(['migrate', 'status'], 0)).upToDate).toBe(true);
    const created = await json(['users', 'create'], 0);
    expect(created.testPassword).toBe('TestPass123!'); // TEST_USER_PASSWORD not set: the default is shown
    expect(Number.isInteger(created.ms)).toBe(true);
    await json(['users', 'check'], 0);
    expect((await json(['verify'], 1)).equal).toBe(false);
    const planned = await json(['sync', 'push', '--dry-run'], 0); // no --yes needed: nothing changes
    expect(planned).toMatchObject({
      dryRun: true,
      wouldRefuse: false,
      testUsers: { replaced: [], removed: [] },
    });
    expect((planned.testUsers as { added: string[] }).added).toHaveLength(3);
    expect((await json(['verify'], 1)).equal).toBe(false); // still different: the dry run pushed nothing
    const pushed = await json(['sync', 'push', '--yes'], 0);
    expect(pushed.backupFile).toMatch(/^backups\/sync\/cloud_sync_backup_\d{8}_\d{6}\.sql$/); // relative to the project
    const verified = await json(['verify', '--diff'], 0);
    expect(verified.diff).toEqual({ tables: [], queries: 0 });
    await json(['migrate', 'up'], 0);
    await json(['migrate', 'validate', '--no-rehearsal'], 0);
    expect((await json(['migrate', 'deploy', 'local', '--dry-run'], 0)).outcome).toBe('up-to-date');
    expect((await json(['seed', 'export', '--output', 'seed.sql'], 0)).file).toBe('seed.sql');
    // (migrate backup --json: backup-restore.test.ts.) The push's backup of the cloud, restored.
    await json(['restore', pushed.backupFile as string, '--target', 'cloud', '--yes'], 0);
    const reset = await json(['reset', '--local-only', '--yes'], 0);
    expect(reset.localOnly).toBe(true);

    // Failures: a declined confirmation (nobody to ask), a missing file, a bad target.
    expect((await json(['sync', 'push'], 2)).error).toEqual(expect.any(String));
    await json(['restore', 'none.sql', '--target', 'local'], 2);
    await json(['migrate', 'up', '--target', 'nowhere'], 2);
    writeFileSync(path.join(cwd, 'notes.sql'), 'select 1;\n'); // not written by crm-env: not replaced
    await json(['seed', 'export', '--output', 'notes.sql'], 2);
  });
});

describe('migrate status', () => {
  it('shows applied, pending, edited-after-apply and missing-locally per database; exit 1 until both are up to date', async () => {
    const { local, cloud } = await createDatabasePair('base');
    const cwd = tempProject({ ownMigrations: true });
    const dir = path.join(cwd, 'supabase', 'migrations');
    const write = (name: string, sql: string): void => writeFileSync(path.join(dir, name), sql);
    write('20250101000000_a.sql', 'create table public.a (id int primary key);\n');
    await migrateUp(cloud, dir); // the cloud has a only, and a version whose file is gone
    await exec(
      cloud,
      `insert into supabase_migrations.schema_migrations (version, name) values ('20250103000000', 'lost')`,
    );
    write('20250102000000_b.sql', 'create table public.b (id int primary key);\n');
    await migrateUp(local, dir);
    write('20250101000000_a.sql', 'create table public.a (id int primary key, note text);\n'); // edited after apply

    const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const r = await runMain(['migrate', 'status', '--json'], { cwd, env });
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as {
      upToDate: boolean;
      migrations: { version: string; fileName: string | null; states: Record<string, string | null> }[];
    };
    expect(doc.upToDate).toBe(false);
    expect(doc.migrations.map((m) => [m.version, m.fileName, m.states.local, m.states.cloud])).toEqual([
      ['20250101000000', '20250101000000_a.sql', 'edited', 'edited'],
      ['20250102000000', '20250102000000_b.sql', 'applied', 'pending'],
      ['20250103000000', null, null, 'missing-file'],
    ]);
  });
});

describe('migrate new', () => {
  it('names the file <UTC YYYYMMDDHHMMSS>_<name>.sql, sanitised, and refuses an existing or newer version', async () => {
    const dir = path.join(tempProject({ ownMigrations: true }), 'supabase', 'migrations');
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const made = await createMigrationFile(dir, 'Add contact-source (v2)!', at);
    expect(path.basename(made.file)).toBe('20260102030405_add_contact_source_v2.sql');
    expect(path.basename(made.file)).toMatch(STRICT_MIGRATION_FILE);
    await expect(createMigrationFile(dir, 'again', at)).rejects.toBeInstanceOf(UsageError);
    await expect(createMigrationFile(dir, 'older', new Date(at.getTime() - 1000))).rejects.toBeInstanceOf(
      UsageError,
    );
    expect(() => migrationName('--- !')).toThrow(UsageError);
    expect(readdirSync(dir)).toEqual(['20260102030405_add_contact_source_v2.sql']);

    const cwd = tempProject({ ownMigrations: true });
    const r = await runMain(['migrate', 'new', 'add notes', '--json'], { cwd: path.join(cwd, 'supabase') });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { file: string; name: string };
    expect(doc.file).toMatch(/^supabase\/migrations\/\d{14}_add_notes\.sql$/);
    expect(existsSync(path.join(cwd, doc.file))).toBe(true);
  });
});
