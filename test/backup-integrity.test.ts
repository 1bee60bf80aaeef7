/**
 * Backups that prove themselves: every kind (full, data, reset, safety, sync) restores to equal
 * checksums with `crm-env restore` and with stock `psql -1 -f`, also into a database whose `public`
 * schema was dropped; a file cut anywhere is refused before anything connects; restored content that
 * differs from the manifest rolls back. Housekeeping: `--keep` and retention touch only their own kind
 * and target, stale `.partial`s go, `backups list` tells complete from cut files. Write errors on a
 * real full or read-only tmpfs end commands within seconds with one sentence, the cloud's locks gone.
 */
import { rejectionOf } from './support/errors.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { approved } from '../src/confirm.js';
import type { Config } from '../src/config.js';
import { syncPush } from '../src/dev/sync.js';
import { CrmEnvError, MismatchError, OperationError } from '../src/errors.js';
import type { DumpKind } from '../src/migration/backup.js';
import { createBackup } from '../src/migration/backup.js';
import { restoreBackup } from '../src/migration/restore.js';
import { runCli, runCliAsync } from './support/cli.js';
import { testConfig } from './support/config.js';
import { createTestDatabase } from './support/db.js';
import {
  addBulkActivities,
  asSuperuser,
  authChecksums,
  databaseState,
  exec,
  insertCrmDataset,
  tableChecksums,
} from './support/fixtures.js';
import { psqlFile } from './support/psql.js';
import { tempDir } from './support/tmp.js';
import { waitFor } from './support/wait.js';

type Kind = DumpKind | 'sync';
const KINDS: readonly Kind[] = ['full', 'data', 'reset', 'safety', 'sync'];

/** What a backup of each kind restores: public, the migration history, the test users' auth rows. */
async function state(url: string): Promise<unknown> {
  const [pub, history, auth] = await Promise.all([
    tableChecksums(url),
    tableChecksums(url, 'supabase_migrations'),
    authChecksums(url),
  ]);
  return { pub, history, auth };
}

/** Changes what a backup of `kind` holds (and only that: a data backup leaves history and auth alone). */
async function mutate(url: string, kind: Kind): Promise<void> {
  await exec(url, `delete from public.tasks`);
  await exec(url, `update public.contacts set first_name = 'changed'`);
  await exec(url, `insert into public.tags (id, name) values (99, 'added later')`);
  if (kind !== 'data' && kind !== 'sync')
    await exec(url, `delete from supabase_migrations.schema_migrations where version = '20251015000000'`);
  if (kind === 'reset' || kind === 'safety' || kind === 'sync')
    await exec(url, `update auth.users set encrypted_password = 'changed' where email like '%@test.local'`);
}

/** Copies of `file` cut mid-COPY (inside a data line), between two statements, and before the end marker. */
function cutCopies(file: string, dir: string): string[] {
  const text = readFileSync(file);
  const s = text.toString('latin1');
  const copy = s.lastIndexOf(' FROM stdin;\n');
  const dataLine = s.indexOf('\n', copy + 13) + 1;
  const cuts = [
    s.indexOf('\n', copy) + 1 + Math.floor((dataLine - s.indexOf('\n', copy) - 1) / 2),
    s.lastIndexOf('\\.\n', copy) + 3,
    s.lastIndexOf('-- crm-env backup end'),
  ];
  return cuts.map((at, i) => {
    mkdirSync(dir, { recursive: true });
    const out = path.join(dir, `${path.basename(file, '.sql')}.cut${i}.sql`);
    writeFileSync(out, text.subarray(0, at));
    return out;
  });
}

const failure = (p: Promise<unknown>): Promise<CrmEnvError> => rejectionOf(p, CrmEnvError);

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('every backup kind proves itself and restores exactly', () => {
  let local: string;
  let cloud: string;
  let config: Config;
  const made = {} as Record<Kind, string>;
  const before = {} as Record<'local' | 'cloud', unknown>;

  beforeAll(async () => {
    [local, cloud] = await Promise.all([
      createTestDatabase({ server: 'local' }),
      createTestDatabase({ server: 'cloud' }),
    ]);
    await Promise.all([
      insertCrmDataset(local, { tag: 'local', realUser: false }),
      insertCrmDataset(cloud, { tag: 'cloud' }),
    ]);
    config = testConfig({ local, cloud });
    before.local = await state(local);
    before.cloud = await databaseState(cloud);
    for (const kind of ['full', 'data', 'reset', 'safety'] as const)
      made[kind] = (await createBackup(config, config.local, { kind })).file;
    made.sync = (await syncPush(config, { force: true })).backupFile;
  });

  const sourceOf = (kind: Kind): string => (kind === 'sync' ? cloud : local);
  const stateOf = (kind: Kind): Promise<unknown> => (kind === 'sync' ? databaseState(cloud) : state(local));
  const expected = (kind: Kind): unknown => (kind === 'sync' ? before.cloud : before.local);

  it('names show kind and target; the first line names the format, the last is the end marker', () => {
    for (const kind of KINDS) {
      const name = path.basename(made[kind]);
      expect(name).toMatch(
        new RegExp(`^${kind === 'sync' ? 'cloud' : 'local'}_${kind}_backup_\\d{8}_\\d{6}(_\\d+)?\\.sql$`),
      );
      const text = readFileSync(made[kind], 'utf8');
      expect(text.split('\n', 1)[0]).toMatch(new RegExp(`^-- crm-env backup, format 1: kind ${kind}, `));
      expect(text.endsWith('\n-- crm-env backup end\n')).toBe(true);
    }
  });

  it('a file cut mid-COPY, between statements or before its end marker is refused before anything connects', async () => {
    for (const kind of KINDS) {
      const current = await stateOf(kind);
      for (const cut of cutCopies(made[kind], path.join(config.projectDir, 'cuts'))) {
        // An unreachable target: a refusal that connected would be a connection error instead.
        const nowhere = {
          label: 'custom' as const,
          url: 'postgresql://x:y@127.0.0.1:1/none',
          source: 'argument' as const,
        };
        const err = await failure(restoreBackup(config, cut, nowhere, { confirm: approved }));
        expect(err).toBeInstanceOf(OperationError);
        expect(err.exitCode).toBe(1); // refused; a connection attempt would be exit 2
        const target = kind === 'sync' ? config.cloud! : config.local;
        expect(await failure(restoreBackup(config, cut, target, { confirm: approved }))).toBeInstanceOf(
          OperationError,
        );
      }
      expect(await stateOf(kind)).toEqual(current);
    }
    expect(files(path.join(config.backupDir, 'safety')).filter((f) => f.includes('_safety_'))).toHaveLength(
      1,
    );
  });

  it('even with --legacy, a file cut mid-COPY never restores: its COPY is not terminated', async () => {
    const text = readFileSync(made.full, 'utf8');
    const body = text.slice(text.indexOf('\n') + 1, text.indexOf('COPY public.activities'));
    const legacy = path.join(config.backupDir, 'legacy-cut.sql');
    writeFileSync(legacy, `${body}COPY public.activities (id) FROM stdin;\n`);
    const err = await failure(restoreBackup(config, legacy, config.local, { confirm: approved }));
    expect(err).toBeInstanceOf(OperationError);
    // With --legacy it runs, and stops at the COPY that never ends (the error names the file).
    const run = await failure(
      restoreBackup(config, legacy, config.local, { confirm: approved, legacy: true, backupFirst: false }),
    );
    expect(run).toBeInstanceOf(OperationError);
    expect(run.message).toContain('legacy-cut.sql');
    expect(await state(local)).toEqual(before.local);
  });

  it('an edited body is refused; content that differs from the manifest rolls back before COMMIT', async () => {
    await mutate(local, 'full');
    const mutated = await state(local);
    const text = readFileSync(made.full, 'utf8');
    const edited = path.join(config.backupDir, 'edited.sql');
    writeFileSync(edited, text.replace('\tlocal Org 0\t', '\tlocal Org X\t'));
    expect(await failure(restoreBackup(config, edited, config.local, { confirm: approved }))).toBeInstanceOf(
      OperationError,
    );
    // The body intact, the manifest claiming one more task: the restore runs, then finds the difference.
    const claimed = text.replace(
      /("name":"tasks","columns":\[[^\]]*\],"rows":)(\d+)/,
      (_, a, n) => `${a}${Number(n) + 1}`,
    );
    writeFileSync(edited, claimed);
    const err = await failure(
      restoreBackup(config, edited, config.local, { confirm: approved, backupFirst: false }),
    );
    expect(err).toBeInstanceOf(MismatchError);
    expect(err.details).toEqual([expect.stringMatching(/^tasks: /)]); // one line, naming the table
    expect(await state(local)).toEqual(mutated);
    await restoreBackup(config, made.full, config.local, { confirm: approved, backupFirst: false });
    expect(await state(local)).toEqual(before.local);
  });

  it.each(KINDS)('%s: crm-env restore and stock psql -1 -f both restore it exactly', async (kind) => {
    await mutate(sourceOf(kind), kind);
    expect(await stateOf(kind)).not.toEqual(expected(kind));
    const target = kind === 'sync' ? config.cloud! : config.local;
    const r = await restoreBackup(config, made[kind], target, { confirm: approved, backupFirst: false });
    expect(r.verified).toMatchObject({ kind });
    expect(await stateOf(kind)).toEqual(expected(kind));
    await mutate(sourceOf(kind), kind);
    psqlFile(sourceOf(kind), made[kind]);
    expect(await stateOf(kind)).toEqual(expected(kind));
  });

  it.each(['full', 'reset'] as const)(
    '%s: restores into a database whose public schema was dropped',
    async (kind) => {
      await exec(local, 'drop schema public cascade');
      await restoreBackup(config, made[kind], config.local, { confirm: approved });
      expect(await state(local)).toEqual(before.local);
      const grants = await exec(
        local,
        `select has_schema_privilege('authenticated', 'public', 'usage') as u`,
      );
      expect(grants.rows[0].u).toBe(true);
    },
  );
});

describe('housekeeping', () => {
  let config: Config;
  let dir: string;
  beforeAll(async () => {
    const url = await createTestDatabase({ template: 'crm' });
    config = testConfig({ local: url, env: { BACKUP_RETENTION: '2' } });
    dir = path.join(config.backupDir, 'migrations');
  });

  it('--keep and retention remove only older files of the same kind and target; stale .partials go, live ones stay', async () => {
    mkdirSync(dir, { recursive: true });
    const others = [
      'local_data_backup_20200101_000000.sql',
      'local_reset_backup_20200101_000000.sql',
      'cloud_full_backup_20200101_000000.sql',
      'other_full_backup_20200101_000000.sql',
      'local_backup_20200101_000000.sql',
    ];
    const olderFull = ['local_full_backup_20200101_000000.sql', 'local_full_backup_20200101_000000_1.sql'];
    for (const f of [...others, ...olderFull]) writeFileSync(path.join(dir, f), '-- fake\n');
    const stale = path.join(dir, 'local_full_backup_20200101_000001.sql.partial');
    const live = path.join(dir, 'local_full_backup_20990101_000000.sql.partial');
    writeFileSync(stale, 'killed run');
    writeFileSync(live, 'a run in progress');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(stale, hourAgo, hourAgo);

    const kept = await createBackup(config, config.local, { keep: 1 });
    expect(kept.pruned.map((f) => path.basename(f))).toEqual(olderFull);
    expect(files(dir)).toEqual([...others, path.basename(kept.file), path.basename(live)].sort());

    // Retention (BACKUP_RETENTION=2) after every backup: data backups only.
    for (let i = 0; i < 2; i++) await createBackup(config, config.local, { kind: 'data' });
    expect(files(dir).filter((f) => f.startsWith('local_data_'))).toHaveLength(2);
    expect(files(dir)).toEqual(
      expect.arrayContaining([
        ...others.filter((f) => !f.startsWith('local_data_')),
        path.basename(kept.file),
      ]),
    );
  });

  it('backups list --json shows kind, target, time, size, rows and completeness', async () => {
    const ok = await createBackup(config, config.local, { kind: 'reset' });
    writeFileSync(
      path.join(config.backupDir, 'reset', 'local_reset_backup_20200101_000000.sql'),
      readFileSync(ok.file).subarray(0, 2000),
    );
    const r = runCli(['backups', 'list', '--json'], {
      cwd: config.projectDir,
      env: { LOCAL_DATABASE_URL: config.local.url },
    });
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout).backups as Record<string, unknown>[];
    expect(list).toContainEqual(
      expect.objectContaining({
        file: path.relative(config.projectDir, ok.file),
        kind: 'reset',
        target: 'local',
        bytes: ok.bytes,
        rows: ok.rows,
        complete: true,
      }),
    );
    expect(list).toContainEqual(
      expect.objectContaining({
        file: 'backups/reset/local_reset_backup_20200101_000000.sql',
        complete: false,
        status: 'incomplete',
      }),
    );
    expect(list).toContainEqual(
      expect.objectContaining({
        file: 'backups/migrations/local_backup_20200101_000000.sql',
        complete: false,
        status: 'legacy',
      }),
    );
  });
});

/** Root can mount a tmpfs here (a real small or read-only disk); otherwise those tests are skipped. */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const dir = tempDir('mount');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const MOUNT = canMount();

/** The errno code somewhere in the error's cause chain. */
function errnoOf(err: unknown): string | undefined {
  for (let e = err as (Error & { code?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  }
  return undefined;
}

/** Mounts a tmpfs with `options` on `dir` (created if needed); returns the unmount. */
function mountTmpfs(dir: string, options: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `${options},mode=0700`, 'tmpfs', dir]);
  return () => execFileSync('umount', [dir]);
}

/**
 * Waits until no crm-env session (push, pg_dump) holds a lock in the database of `url`; returns how
 * many it then holds (0). No deadline of its own: the test's timeout is the guard.
 */
async function waitForNoCrmEnvLocks(url: string): Promise<number> {
  const db = decodeURIComponent(new URL(url).pathname.slice(1));
  return asSuperuser(url, (c) =>
    waitFor('no crm-env session holding a lock', async () => {
      const { rows } = await c.query<{ n: number }>(
        `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where a.datname = $1 and a.application_name like 'crm-env%' and l.locktype = 'relation'
            and a.pid <> pg_backend_pid()`,
        [db],
      );
      return rows[0]!.n === 0 ? 0 : undefined;
    }),
  );
}

describe.skipIf(!MOUNT)(
  'write errors on a real full or read-only disk (tmpfs; skipped unless root may mount)',
  () => {
    let local: string;
    let cloud: string;
    beforeAll(async () => {
      [local, cloud] = await Promise.all([
        createTestDatabase({ server: 'local' }),
        createTestDatabase({ server: 'cloud' }),
      ]);
      await Promise.all([
        insertCrmDataset(local, { tag: 'local' }),
        insertCrmDataset(cloud, { tag: 'cloud' }),
      ]);
      await addBulkActivities(cloud, 3_000);
      // 8 MB of text that the server stores compressed in a few KB: the preflight's estimate (from
      // relation sizes) passes, and the disk fills during the write itself.
      await exec(
        cloud,
        `update public.activities set body = repeat('x', 100000) where id in (select id from public.activities order by id limit 80)`,
      );
    });

    it('a full disk during the push backup: exit 1, no partial file, cloud unchanged and its locks released', async () => {
      const config = testConfig({ local, cloud });
      const before = await databaseState(cloud);
      const umount = mountTmpfs(config.backupDir, 'size=2m');
      try {
        const err = await failure(syncPush(config, { force: true }));
        expect(err).toBeInstanceOf(OperationError);
        expect(errnoOf(err)).toBe('ENOSPC');
        expect(files(path.join(config.backupDir, 'sync'))).toEqual([]);
        // A pg_dump backup on the same disk fails the same way, pg_dump gone.
        const dump = await failure(createBackup(config, config.cloud!));
        expect(dump).toBeInstanceOf(OperationError);
        expect(errnoOf(dump)).toBe('ENOSPC');
        expect(files(path.join(config.backupDir, 'migrations'))).toEqual([]);
      } finally {
        umount();
      }
      expect(await waitForNoCrmEnvLocks(cloud)).toBe(0);
      expect(await databaseState(cloud)).toEqual(before);
    });

    it('a read-only backup folder: one sentence, exit 2, no stack trace, nothing changed (backup, push, reset)', async () => {
      const config = testConfig({ local, cloud });
      const before = await Promise.all([databaseState(cloud), state(local)]);
      const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
      const umount = mountTmpfs(config.backupDir, 'ro,size=64k');
      try {
        for (const args of [
          ['migrate', 'backup', 'local'],
          ['sync', 'push', '--force'],
          ['reset', '--yes'],
        ]) {
          const r = runCli(args, { cwd: config.projectDir, env });
          expect(r.code).toBe(2);
          expect(r.stderr.trim().split('\n')).toHaveLength(1); // one sentence
          expect(r.stderr).not.toMatch(/Unexpected error|\n\s+at /);
        }
      } finally {
        umount();
      }
      expect(await waitForNoCrmEnvLocks(cloud)).toBe(0);
      expect(await Promise.all([databaseState(cloud), state(local)])).toEqual(before);
    });
  },
);

// The two cases have databases and project folders of their own, and run the CLI without blocking
// the worker: they run at once.
describe.concurrent('every printed way back is run by a test', () => {
  const command = (text: string, label: string): string[] => {
    const m = new RegExp(`${label}: npx crm-env (.+)$`, 'm').exec(text);
    if (!m) throw new Error(`no "${label}" line in:\n${text}`);
    return m[1]!.split(' ');
  };

  it('push prints "To roll back"; restore prints "To undo this restore": each, run as printed, restores exactly', async () => {
    const [local, cloud] = await Promise.all([
      createTestDatabase({ server: 'local' }),
      createTestDatabase({ server: 'cloud' }),
    ]);
    await Promise.all([insertCrmDataset(local, { tag: 'local' }), insertCrmDataset(cloud, { tag: 'cloud' })]);
    const config = testConfig({ local, cloud });
    const opts = {
      cwd: config.projectDir,
      env: { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud },
    };
    const before = await databaseState(cloud);
    const push = await runCliAsync(['sync', 'push', '--force'], opts);
    expect(push.code).toBe(0);
    const pushed = await databaseState(cloud);
    const back = await runCliAsync(command(push.stdout, 'To roll back'), opts);
    expect(back.code).toBe(0);
    expect(await databaseState(cloud)).toEqual(before);
    const undo = await runCliAsync(command(back.stdout, 'To undo this restore'), opts);
    expect(undo.code).toBe(0);
    expect(await databaseState(cloud)).toEqual(pushed);
  });

  it('a reset that fails after resetting local prints the way back for local; run as printed, local is as before', async () => {
    const [local, cloud] = await Promise.all([
      createTestDatabase({ server: 'local' }),
      createTestDatabase({ server: 'cloud' }),
    ]);
    await Promise.all([
      insertCrmDataset(local, { tag: 'local', realUser: false }),
      insertCrmDataset(cloud, { tag: 'cloud' }),
    ]);
    // A cloud trigger refuses the load: no read-only check can see it, so it fails after local was reset.
    await exec(
      cloud,
      `create function public.refuse_tasks() returns trigger language plpgsql as $$begin raise exception 'no new tasks'; end$$;
       create trigger refuse_tasks before insert on public.tasks for each row execute function public.refuse_tasks()`,
    );
    const config = testConfig({ local, cloud });
    const opts = {
      cwd: config.projectDir,
      env: { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud },
    };
    const before = await state(local);
    const reset = await runCliAsync(['reset', '--yes'], opts);
    expect(reset.code).toBe(1);
    expect(await state(local)).not.toEqual(before);
    const back = await runCliAsync(command(reset.stderr, 'To go back \\(local\\)'), opts);
    expect(back.code).toBe(0);
    expect(await state(local)).toEqual(before);
  });
});
