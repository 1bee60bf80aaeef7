import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/program.js';
import { approved, noConfirmation } from '../src/confirm.js';
import type { Config } from '../src/config.js';
import { loadConfig } from '../src/config.js';
import { inspectBackupFile } from '../src/db/backup-manifest.js';
import { withClient } from '../src/db/connect.js';
import { pgDumpInvocation } from '../src/db/pg-dump.js';
import { qualify } from '../src/db/sql.js';
import { ConfigError, OperationError, UsageError } from '../src/errors.js';
import { backupTimestamp, createBackup, listBackups } from '../src/migration/backup.js';
import { restoreBackup } from '../src/migration/restore.js';
import { createTestDatabase } from './support/db.js';
import { psqlFile } from './support/psql.js';
import { tempDir } from './support/tmp.js';

const SEED = readFileSync(path.resolve('test/fixtures/backup/crm-rows.sql'), 'utf8');

const MUTATE = `
update public."contactNotes" set text = 'changed' where status = 'warm';
delete from public.tasks;
delete from public."dealNotes";
insert into public.tags (name) values ('added after the backup');
update public.products set certifications = '{}';
alter table public.products add column extra text;
delete from supabase_migrations.schema_migrations where version = (select max(version) from supabase_migrations.schema_migrations);
`;

/** Per table (public and the migration history): row count and an md5 of the rows; sequences; privileges. */
async function fingerprint(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const out: Record<string, string> = {};
    const { rows: tables } = await c.query<{ s: string; t: string }>(
      `select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'supabase_migrations') and c.relkind in ('r', 'p') order by 1, 2`,
    );
    for (const { s, t } of tables) {
      const { rows } = await c.query(
        `select count(*)::int as n, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${qualify(s, t)} x`,
      );
      out[`${s}.${t}`] = `${rows[0].n} rows, ${rows[0].h}`;
    }
    const { rows: seqs } = await c.query(
      `select sequencename as s, last_value::text as v from pg_sequences where schemaname = 'public'`,
    );
    for (const r of seqs) out[`sequence ${r.s}`] = String(r.v);
    const { rows: acl } = await c.query(
      `select c.relname as o, array(select x::text from unnest(c.relacl) x order by 1)::text as a from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'S', 'v')
       union all
       select p.oid::regprocedure::text, array(select x::text from unnest(p.proacl) x order by 1)::text from pg_proc p
        where p.pronamespace = 'public'::regnamespace`,
    );
    for (const r of acl) out[`privileges ${r.o}`] = r.a;
    return out;
  });
}

const exec = (url: string, sql: string): Promise<unknown> => withClient(url, (c) => c.query(sql));

function configFor(url: string, env: Record<string, string> = {}): Config {
  const dir = tempDir('backup');
  return loadConfig({
    cwd: dir,
    env: { LOCAL_DATABASE_URL: url, BACKUP_DIR: path.join(dir, 'backups'), ...env },
  });
}

describe('migration backup and restore (real servers, as the postgres role)', () => {
  let url: string;
  let config: Config;
  let original: Record<string, string>;
  let backupFile: string;

  beforeAll(async () => {
    url = await createTestDatabase({ template: 'crm' });
    await exec(url, SEED);
    config = configFor(url);
    original = await fingerprint(url);
    const r = await createBackup(config, config.local);
    backupFile = r.file;
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('writes backups/migrations/<label>_full_backup_<ts>.sql, mode 0600 in a 0700 folder, with the project schemas only', () => {
    expect(path.basename(backupFile)).toMatch(/^local_full_backup_\d{8}_\d{6}\.sql$/);
    expect(path.dirname(backupFile)).toBe(path.join(config.backupDir, 'migrations'));
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(backupFile)).mode & 0o777).toBe(0o700);
    expect(existsSync(`${backupFile}.partial`)).toBe(false);
    const sql = readFileSync(backupFile, 'utf8');
    expect(sql).toMatch(/^CREATE TABLE public\."contactNotes" \(/m);
    expect(sql).toMatch(/^COPY supabase_migrations\.schema_migrations /m);
    expect(sql).not.toMatch(/^\\(un)?restrict/m);
    expect(sql).not.toMatch(/^(DROP|CREATE) SCHEMA (IF EXISTS )?public;/m);
    expect(sql).not.toMatch(
      /^(CREATE|DROP|COMMENT ON) EXTENSION|^ALTER DEFAULT PRIVILEGES|^CREATE TABLE auth\./m,
    );
    expect(backupTimestamp(new Date('2025-10-16T14:30:22.999Z'))).toBe('20251016_143022');
  });

  it('restores with the library after rows and the schema changed: every table, sequence and privilege as before', async () => {
    await exec(url, `${MUTATE} create table public.after_backup (id int);`);
    expect(await fingerprint(url)).not.toEqual(original);
    const r = await restoreBackup(config, backupFile, config.local, { confirm: approved });
    expect(r.untouchedTables).toEqual(['after_backup']);
    await exec(url, 'drop table public.after_backup');
    expect(await fingerprint(url)).toEqual(original);
    expect(r.safetyBackup?.file).toMatch(/safety\/local_safety_backup_\d{8}_\d{6}(_\d+)?\.sql$/);
    expect(r.safetyBackup?.file).not.toBe(backupFile);
    expect(r.rowsPerTable).toContainEqual({ table: 'contactNotes', rows: 5 });
    expect(r.rowsPerTable).toContainEqual({ table: 'supabase_migrations.schema_migrations', rows: 3 });
    expect(r.copiedRows).toBeGreaterThan(20);
    // The migrations' explicit grants hold: anon has nothing, although Supabase's default privileges give it ALL.
    const priv = await withClient(url, (c) =>
      c.query(`select has_table_privilege('anon', 'public.sales', 'select') as anon`),
    );
    expect(priv.rows[0].anon).toBe(false);
  });

  it('restores the same file with stock psql -1 -v ON_ERROR_STOP=1 -f as the postgres role', async () => {
    await exec(url, MUTATE);
    psqlFile(url, backupFile);
    expect(await fingerprint(url)).toEqual(original);
  });

  it('refuses without confirmation: UsageError, no safety backup, data unchanged', async () => {
    await exec(url, `delete from public.tasks`);
    const before = await fingerprint(url);
    const files = readdirSync(path.dirname(backupFile)).length;
    await expect(
      restoreBackup(config, backupFile, config.local, { confirm: noConfirmation }),
    ).rejects.toBeInstanceOf(UsageError);
    expect(readdirSync(path.dirname(backupFile)).length).toBe(files);
    expect(await fingerprint(url)).toEqual(before);
  });

  it('rolls a broken file back completely and names the failing line', async () => {
    await exec(url, MUTATE);
    const before = await fingerprint(url);
    // Without its first line and manifest: a legacy file, run with --legacy (an edited crm-env backup is refused).
    const text = readFileSync(backupFile, 'utf8');
    const lines = text.slice(text.indexOf('\n') + 1, text.lastIndexOf('\n-- The manifest')).split('\n');
    const at = lines.lastIndexOf('\\.') + 1; // after the last COPY block: most of the restore has run
    lines.splice(at, 0, 'SELECT * FROM public.no_such_table;');
    const broken = path.join(path.dirname(backupFile), 'broken.sql');
    writeFileSync(broken, lines.join('\n'));
    const err = await restoreBackup(config, broken, config.local, {
      confirm: approved,
      backupFirst: false,
      legacy: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toContain(`broken.sql:${at + 1}:`);
    expect((err as Error).message).toContain('no_such_table');
    expect(await fingerprint(url)).toEqual(before);
  });

  it('data-only backup: public rows only, a TRUNCATE first; restores with the library and with psql', async () => {
    await restoreBackup(config, backupFile, config.local, { confirm: approved, backupFirst: false });
    const data = await createBackup(config, config.local, { dataOnly: true, label: 'data' });
    expect(path.basename(data.file)).toMatch(/^data_data_backup_/);
    const sql = readFileSync(data.file, 'utf8');
    expect(sql).toMatch(/^TRUNCATE TABLE "public"\.".*"public"\."activities"/m);
    expect(sql).not.toMatch(/CREATE TABLE|schema_migrations/);
    expect(data.bytes).toBeLessThan(statSync(backupFile).size);
    await exec(
      url,
      `update public."contactNotes" set text = 'x'; delete from public.deals; insert into public.segments (name) values ('extra')`,
    );
    await restoreBackup(config, data.file, config.local, { confirm: approved, backupFirst: false });
    expect(await fingerprint(url)).toEqual(original);
    await exec(url, `delete from public.organizations`);
    psqlFile(url, data.file);
    expect(await fingerprint(url)).toEqual(original);
  });

  it('restores a sync-style backup (TRUNCATE, quoted COPY, setval) and counts its tables', async () => {
    const file = path.join(config.backupDir, 'sync-style.sql');
    writeFileSync(
      file,
      [
        '-- crm-env sync backup',
        "SET client_encoding = 'UTF8';",
        'TRUNCATE TABLE "public"."tags";',
        'COPY "public"."tags" ("id", "name", "color", "created_at", "updated_at") FROM stdin;',
        '7\tsync\\ttag\tred\t2025-10-16 00:00:00+00\t2025-10-16 00:00:00+00',
        '\\.',
        '',
        'SELECT pg_catalog.setval(\'"public"."tags_id_seq"\', 7, true);',
        '',
      ].join('\n'),
    );
    // Written by hand, no manifest: seen as legacy, refused (exit 1, nothing changed) unless --legacy.
    expect((await inspectBackupFile(file)).status).toBe('legacy');
    const before = await fingerprint(url);
    const refused = await restoreBackup(config, file, config.local, { confirm: approved }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(OperationError);
    expect((refused as OperationError).exitCode).toBe(1);
    expect(await fingerprint(url)).toEqual(before);
    const r = await restoreBackup(config, file, config.local, {
      confirm: approved,
      backupFirst: false,
      legacy: true,
    });
    expect(r).toMatchObject({
      statements: 4,
      copiedRows: 1,
      safetyBackup: null,
      untouchedTables: [],
      verified: null,
    });
    expect(r.rowsPerTable).toContainEqual({ table: 'tags', rows: 1 });
    const { rows } = await withClient(url, (c) => c.query(`select name from public.tags`));
    expect(rows).toEqual([{ name: 'sync\ttag' }]);
    await restoreBackup(config, backupFile, config.local, { confirm: approved, backupFirst: false });
  });

  it('--keep prunes older backups of the same label and kind only; two backups in one second get distinct names', async () => {
    const cfg = configFor(url);
    const other = await createBackup(cfg, cfg.local, { label: 'cloud', dataOnly: true });
    const full = await createBackup(cfg, cfg.local);
    // The clock stands still (only Date is faked): all three data backups fall in the same second.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date() });
    const files: string[] = [];
    try {
      for (let i = 0; i < 3; i++)
        files.push((await createBackup(cfg, cfg.local, { dataOnly: true, keep: 2 })).file);
    } finally {
      vi.useRealTimers();
    }
    expect(new Set(files).size).toBe(3);
    const dir = path.join(cfg.backupDir, 'migrations');
    expect(listBackups(dir, 'local', 'data')).toEqual(files.slice(1));
    expect(existsSync(other.file)).toBe(true);
    expect(existsSync(full.file)).toBe(true);
  });

  it('never puts the password on pg_dump’s command line', async () => {
    const u = new URL(url);
    const password = decodeURIComponent(u.password);
    const inv = pgDumpInvocation(`${url}?sslmode=disable`, ['--schema=public']);
    expect(inv.args.join(' ')).not.toContain(password);
    expect(inv.args).toEqual(['--schema=public']);
    expect(inv.env).toMatchObject({ PGPASSWORD: password, PGSSLMODE: 'disable', PGPORT: u.port });

    // The real invocation, seen by a wrapper that records its argv (what /proc/<pid>/cmdline shows).
    const dir = tempDir('pgdump');
    const wrapper = path.join(dir, 'pg_dump');
    writeFileSync(
      wrapper,
      `#!/bin/sh\n[ "$1" = "--version" ] && exec pg_dump --version\nprintf '%s\\n' "$@" > ${dir}/args\necho "\${PGPASSWORD:+set}" > ${dir}/env\nexec pg_dump "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const cfg = configFor(url, { PG_DUMP: wrapper });
    await createBackup(cfg, cfg.local, { dataOnly: true });
    const args = readFileSync(path.join(dir, 'args'), 'utf8');
    expect(args).not.toContain('postgres');
    expect(args).not.toContain(password);
    expect(readFileSync(path.join(dir, 'env'), 'utf8').trim()).toBe('set');
  });

  it('refuses a pg_dump older than the server with a ConfigError naming the versions and the installs', async () => {
    const dir = tempDir('pgdump');
    const old = path.join(dir, 'pg_dump');
    writeFileSync(old, '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.0"\n');
    chmodSync(old, 0o755);
    const cfg = configFor(url, { PG_DUMP: old });
    const err = await createBackup(cfg, cfg.local).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    // Names both versions, and the install commands (package names) for the server's major version.
    const major = await withClient(url, async (c) =>
      String(
        (await c.query<{ v: number }>(`select current_setting('server_version_num')::int / 10000 as v`))
          .rows[0]!.v,
      ),
    );
    expect((err as Error).message).toContain('9.6.0');
    expect((err as Error).message).toContain(major);
    const details = (err as ConfigError).details.join('\n');
    for (const pkg of [`postgresql-client-${major}`, `postgresql@${major}`, `PostgreSQL.PostgreSQL.${major}`])
      expect(details).toContain(pkg);
    expect(existsSync(path.join(cfg.backupDir, 'migrations'))).toBe(false);
  });

  describe('CLI', () => {
    const capture = (): { out: string[]; err: string[] } => {
      const out: string[] = [];
      const err: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
      return { out, err };
    };

    it('restore without a terminal and without --yes exits 2 before touching anything', async () => {
      const dir = tempDir('cli');
      vi.stubEnv('BACKUP_DIR', dir);
      const before = await fingerprint(url);
      await exec(url, 'select 1');
      const io = capture();
      const code = await main(['restore', backupFile, '--target', url]);
      vi.restoreAllMocks();
      expect(code).toBe(2);
      expect(io.out.join('') + io.err.join('')).not.toContain(new URL(url).password);
      expect(readdirSync(dir)).toEqual([]);
      expect(await fingerprint(url)).toEqual(before);

      // The confirmation was all that was missing: with --yes the same restore runs.
      await exec(url, MUTATE);
      capture();
      const yes = await main(['restore', backupFile, '--target', url, '--yes', '--json']);
      process.exitCode = undefined;
      vi.restoreAllMocks();
      expect(yes).toBe(0);
      expect(await fingerprint(url)).toEqual(original);
    });

    it('migrate backup <url> --json prints the file and size', async () => {
      const dir = tempDir('cli');
      vi.stubEnv('BACKUP_DIR', dir);
      const io = capture();
      const code = await main(['migrate', 'backup', url, '--json', '--keep', '1']);
      process.exitCode = undefined;
      vi.restoreAllMocks();
      expect(code).toBe(0);
      const json = JSON.parse(io.out.join(''));
      expect(json).toMatchObject({ target: 'custom', kind: 'full', dataOnly: false });
      expect(json.file).toMatch(new RegExp(`^${dir}/migrations/custom_full_backup_\\d{8}_\\d{6}\\.sql$`));
      expect(statSync(json.file).size).toBe(json.bytes);
    });
  });
});
