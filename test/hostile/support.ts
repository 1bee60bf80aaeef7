/**
 * What every hostile case needs: projects in temporary folders (removed at the end), the built CLI run
 * asynchronously (so a case can signal it in a phase), content checksums of every public and auth
 * table, waits on observable server state (pg_stat_activity, pg_locks) instead of sleeps, and the
 * "one clear sentence" check of stderr.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { expect } from 'vitest';
import { readTables } from '../../src/db/catalog.js';
import type { TableChecksum } from '../../src/db/checksum.js';
import { checksumTables } from '../../src/db/checksum.js';
import { connect, withClient } from '../../src/db/connect.js';
import { exitCodeFor, formatError } from '../../src/cli/run.js';
import type { Config } from '../../src/config.js';
import { loadConfig, resolveTarget } from '../../src/config.js';
import { approved, noConfirmation } from '../../src/confirm.js';
import { resetEnvironment } from '../../src/dev/reset.js';
import { syncPush } from '../../src/dev/sync.js';
import { createTestUsers } from '../../src/dev/test-users.js';
import { deployMigrations } from '../../src/migration/deploy.js';
import { restoreBackup } from '../../src/migration/restore.js';
import { migrateUpWithPreflight } from '../../src/preflight/migration-needs.js';
import { silentReporter } from '../../src/reporter.js';
import type { ServerName } from '../support/db.js';
import { createTestDatabase, createTrackedDatabase, superuserUrl } from '../support/db.js';
import type { DatasetOptions } from '../support/fixtures.js';
import { insertCrmDataset } from '../support/fixtures.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';

const BIN = path.resolve('bin/crm-env.js');
const made: string[] = [];

/** Removes every folder this module made (call in afterAll). */
export function removeTempFolders(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A project folder: supabase/migrations holds the repository's migrations (each file linked) plus
 * `extra` (name → SQL), so a deploy has something pending.
 */
export function project(extra: Readonly<Record<string, string>> = {}): string {
  const dir = tempDir('hostile');
  made.push(dir);
  const migrations = path.join(dir, 'supabase', 'migrations');
  mkdirSync(migrations, { recursive: true });
  const source = path.resolve('supabase/migrations');
  for (const f of readdirSync(source)) symlinkSync(path.join(source, f), path.join(migrations, f));
  for (const [name, sql] of Object.entries(extra)) writeFileSync(path.join(migrations, name), sql);
  return dir;
}

/** A pending migration for deploy cases: it alters a table the CRM data lives in. */
export const PENDING_MIGRATION = {
  '20991231000000_hostile_note.sql': 'alter table public.tasks add column hostile_note text;\n',
};

/** Small seed volumes: the cases test safety, not the generator. */
const SMALL_SEED = Object.fromEntries(
  ['ORGANIZATION', 'CONTACT', 'OPPORTUNITY', 'ACTIVITY', 'PRODUCT'].map((k) => [`SEED_${k}_COUNT`, '2']),
);

/** The environment of a run: the two databases, a private stack folder (no stack.env), small seeds. */
export function envFor(
  dir: string,
  urls: { local: string; cloud?: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LOCAL_DATABASE_URL: urls.local,
    ...(urls.cloud ? { DATABASE_URL_PRODUCTION: urls.cloud } : {}),
    STACK_DIR: path.join(dir, '.crm-env'),
    ...SMALL_SEED,
    ...extra,
  };
}

export interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command under way, through the built CLI (a process) or in this process (the library). */
export interface CliRun {
  /** Settles when the command has finished. */
  readonly done: Promise<Outcome>;
  exited(): boolean;
  /** Ctrl-C: SIGINT to the process, or the abort signal the library runs under. */
  interrupt(): void;
  /** The CLI process (absent in-process). */
  readonly child?: ChildProcess;
}

/** Starts the built CLI in `cwd` with exactly `env` (plus PATH and HOME). */
export function startCli(args: readonly string[], cwd: string, env: Record<string, string>): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Outcome>((resolve) =>
    child.once('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done, exited: () => exited, interrupt: () => child.kill('SIGINT') };
}

const has = (args: readonly string[], flag: string): boolean => args.includes(flag);
function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
/** Positional arguments after the command words (values of --target excluded). */
function positionals(args: readonly string[], words: number): string[] {
  return args.slice(words).filter((a, i, all) => !a.startsWith('--') && all[words + i - 1] !== '--target');
}

/**
 * The library calls each CLI command makes, with the same arguments: in-process cases skip the
 * process start-up (the slow part) and keep the behaviour (same functions, same errors, same text).
 */
async function dispatch(args: readonly string[], config: Config, signal: AbortSignal): Promise<unknown> {
  const deleteNonTestData = has(args, '--delete-non-test-data');
  const confirm = has(args, '--yes') ? approved : noConfirmation;
  const [a, b] = args;
  if (a === 'sync' && b === 'push')
    return syncPush(config, { force: has(args, '--force'), deleteNonTestData, signal });
  if (a === 'reset')
    return resetEnvironment(config, {
      confirm,
      deleteNonTestData,
      signal,
      localOnly: has(args, '--local-only'),
    });
  if (a === 'users' && b === 'create') {
    const target = resolveTarget(config, positionals(args, 2)[0] ?? option(args, '--target') ?? 'local');
    return createTestUsers(config, target, silentReporter, { deleteNonTestData, signal });
  }
  if (a === 'restore')
    return restoreBackup(config, b!, resolveTarget(config, option(args, '--target')!), {
      confirm,
      signal,
      legacy: has(args, '--legacy'),
    });
  if (a === 'migrate' && b === 'deploy')
    return deployMigrations(config, resolveTarget(config, positionals(args, 2)[0] ?? 'cloud'), {
      confirm,
      signal,
    });
  if (a === 'migrate' && b === 'up')
    return migrateUpWithPreflight(config, resolveTarget(config, option(args, '--target') ?? 'local'), {
      signal,
    });
  throw new Error(`no in-process form for ${args.join(' ')}`);
}

/** Starts a command in this process: configuration from `env` and `cwd` exactly as the CLI reads it. */
export function startInProcess(args: readonly string[], cwd: string, env: Record<string, string>): CliRun {
  const controller = new AbortController();
  let exited = false;
  const done = (async (): Promise<Outcome> => {
    let secrets: readonly string[] = [];
    try {
      const config = loadConfig({ cwd, env });
      secrets = config.secrets;
      const result = await dispatch(args, config, controller.signal);
      return { code: 0, signal: null, stdout: JSON.stringify(result ?? null), stderr: '' };
    } catch (err) {
      return { code: exitCodeFor(err), signal: null, stdout: '', stderr: formatError(err, secrets) };
    } finally {
      exited = true;
    }
  })();
  return { done, exited: () => exited, interrupt: () => controller.abort() };
}

export type Via = 'cli' | 'library';

/** Starts a command through the CLI process or in this process. */
export function start(via: Via, args: readonly string[], cwd: string, env: Record<string, string>): CliRun {
  return via === 'cli' ? startCli(args, cwd, env) : startInProcess(args, cwd, env);
}

/** Runs a command to the end (through the CLI by default). */
export async function runCli(
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
  via: Via = 'cli',
): Promise<Outcome> {
  return start(via, args, cwd, env).done;
}

/**
 * The error output is one clear sentence: exactly one "❌" line, optional indented detail lines, no
 * stack trace, no "Unexpected error". Wording is not asserted.
 */
export function expectOneClearSentence(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('⚠️'));
  expect(stderr).not.toMatch(/Unexpected error/);
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(lines.filter((l) => l.startsWith('❌'))).toHaveLength(1);
  expect(lines[0]).toMatch(/^❌ \S/);
  for (const l of lines.slice(1)) expect(l).toMatch(/^\s{2,}\S/);
}

/** Checksums (rows + content) of every table in public and auth, from one snapshot, as the superuser. */
export async function contentOf(url: string): Promise<Record<string, TableChecksum>> {
  return withClient(superuserUrl(url), async (c) => {
    await c.query('begin isolation level repeatable read read only');
    try {
      const tables = [...(await readTables(c, 'public')), ...(await readTables(c, 'auth'))];
      const sums = await checksumTables(c, tables);
      return Object.fromEntries(sums.map((s, i) => [`${tables[i]!.schema}.${s.table}`, s]));
    } finally {
      await c.query('rollback');
    }
  });
}

/** Content of several databases at once (compare before and after a case). */
export async function contentOfAll(urls: readonly string[]): Promise<Record<string, TableChecksum>[]> {
  return Promise.all(urls.map(contentOf));
}

/** A role on the server of `url` with the given attributes; returns a URL of `url`'s database as it. */
export async function createRole(
  url: string,
  attributes: string,
  grants: readonly string[],
): Promise<string> {
  const name = `hostile_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(9).toString('hex');
  await withClient(superuserUrl(url), async (c) => {
    await c.query(`create role ${name} login password '${password}' ${attributes}`);
    for (const g of grants) await c.query(g.replaceAll('$ROLE', name));
  });
  const u = new URL(url);
  u.username = name;
  u.password = password;
  return u.toString();
}

/** Grants that give a role everything on the CRM's tables except ownership. */
export const ALL_TABLE_GRANTS = [
  'grant usage on schema public, auth to $ROLE',
  'grant all on all tables in schema public to $ROLE',
  'grant all on all sequences in schema public to $ROLE',
  'grant all on all tables in schema auth to $ROLE',
];

/**
 * Waits until `sql` (run as the superuser on `url`'s database, with the database name as $1) returns
 * a row, polling observable state; fails early when `run` exits first.
 */
export async function waitUntil(url: string, sql: string, run?: CliRun): Promise<void> {
  const db = decodeURIComponent(new URL(url).pathname.slice(1));
  await withClient(superuserUrl(url), async (c) => {
    await waitFor(
      sql,
      async () => ((await c.query(sql, [db])).rows.length > 0 ? true : undefined),
      () => run?.exited() ?? false,
    ).catch(async (err: unknown) => {
      if (!run?.exited()) throw err;
      const r = await run.done;
      throw new Error(`the command exited (${r.code}) before the awaited state:\n${r.stdout}\n${r.stderr}`);
    });
  });
}

/** A crm-env session (application name starting with `app`) on `url`'s database, waiting on a lock. */
export function waitingOnLock(app = 'crm-env', queryLike = '%'): string {
  return `select 1 from pg_stat_activity where datname = $1 and application_name like '${app}%'
            and wait_event_type = 'Lock' and query ilike '${queryLike}'`;
}

/** A superuser session that ran `sql` in an open transaction (a lock held); `end()` releases it. */
export async function hold(url: string, sql: string): Promise<pg.Client> {
  const c = await connect(superuserUrl(url));
  await c.query('begin');
  await c.query(sql);
  return c;
}

/** A table pg_dump backs up but no preflight or command step reads: holding it pauses pg_dump. */
export async function addDumpProbe(url: string): Promise<void> {
  await withClient(superuserUrl(url), (c) =>
    c.query(
      'create table supabase_migrations.hostile_probe (id int); alter table supabase_migrations.hostile_probe owner to postgres',
    ),
  );
}

export const LOCK_DUMP_PROBE = 'lock table supabase_migrations.hostile_probe in access exclusive mode';

/** What a case's databases start with: a dataset of test/support/fixtures.ts, or none (the CRM schema). */
export interface Seeds {
  readonly local?: DatasetOptions | null;
  readonly cloud?: DatasetOptions | null;
}

const seededTemplates = new Map<string, Promise<string>>();

/** A template database on `server` holding `dataset`, built once per test file. */
function seededTemplate(server: ServerName, dataset: DatasetOptions | null): Promise<string> {
  const key = JSON.stringify([server, dataset]);
  let made = seededTemplates.get(key);
  if (!made) {
    made = (async () => {
      const url = await createTestDatabase({ server });
      if (dataset) await insertCrmDataset(url, dataset);
      return decodeURIComponent(new URL(url).pathname.slice(1));
    })();
    seededTemplates.set(key, made);
  }
  return made;
}

/** A fresh database on `server` cloned from the template holding `dataset` (cheaper than inserting it). */
export async function seededDatabase(server: ServerName, dataset: DatasetOptions | null): Promise<string> {
  const template = await seededTemplate(server, dataset);
  return createTrackedDatabase(server, `h_${randomBytes(6).toString('hex')}`, `template ${template}`);
}

/** A local and a cloud database with the given datasets. */
export async function seededPair(seeds: Seeds): Promise<{ local: string; cloud: string }> {
  const [local, cloud] = await Promise.all([
    seededDatabase('local', seeds.local ?? null),
    seededDatabase('cloud', seeds.cloud ?? null),
  ]);
  return { local, cloud };
}

/** The usual pair: local with test users only, the cloud with its own data and a real user (no rows). */
export const USUAL: Seeds = {
  local: { tag: 'local', realUser: false },
  cloud: { tag: 'cloud' },
};
