/**
 * What every hostile case needs: projects in temporary folders (removed at the end), the built CLI run
 * asynchronously (so a case can signal it in a phase), content checksums of every public and auth
 * table, waits on observable server state (pg_stat_activity, pg_locks) instead of sleeps, and the
 * "one clear sentence" check of stderr.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { expect } from 'vitest';
import { readTables } from '../../src/db/catalog.js';
import type { TableChecksum } from '../../src/db/checksum.js';
import { checksumTables } from '../../src/db/checksum.js';
import { connect, withClient } from '../../src/db/connect.js';
import { ensureBuilt } from '../support/cli.js';
import { superuserUrl } from '../support/db.js';

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
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crm-env-hostile-'));
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

/** The environment of a CLI run: the two databases and a private stack folder (no stack.env). */
export function envFor(
  dir: string,
  urls: { local: string; cloud?: string },
  extra: Record<string, string> = {},
) {
  return {
    LOCAL_DATABASE_URL: urls.local,
    ...(urls.cloud ? { DATABASE_URL_PRODUCTION: urls.cloud } : {}),
    STACK_DIR: path.join(dir, '.crm-env'),
    ...extra,
  };
}

export interface CliRun {
  readonly child: ChildProcess;
  /** Settles when the process has exited. */
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
  exited(): boolean;
}

/** Starts the built CLI in `cwd` with exactly `env` (plus PATH and HOME). */
export function startCli(args: readonly string[], cwd: string, env: Record<string, string>): CliRun {
  ensureBuilt();
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
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) =>
    child.once('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done, exited: () => exited };
}

/** Runs the CLI to the end. */
export async function runCli(args: readonly string[], cwd: string, env: Record<string, string>) {
  return startCli(args, cwd, env).done;
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
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (run?.exited()) {
        const r = await run.done;
        throw new Error(`the command exited (${r.code}) before the awaited state:\n${r.stdout}\n${r.stderr}`);
      }
      if ((await c.query(sql, [db])).rows.length > 0) return;
      await sleep(10);
    }
    throw new Error(`state never reached: ${sql}`);
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
