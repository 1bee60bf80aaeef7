/**
 * Temporary projects with their own supabase/migrations (for migration sets other than the repository's),
 * read through loadConfig exactly as the CLI does, plus a runner for the real Supabase CLI that never
 * writes into the repository (it creates supabase/.temp/ in its working directory).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

export interface MigrationProject {
  readonly dir: string;
  readonly migrationsDir: string;
  /** The project's Config (reload after changing the environment; files are read on every command). */
  readonly config: Config;
  write(fileName: string, sql: string): void;
  remove(fileName: string): void;
}

/** A project folder whose supabase/migrations holds `files` (name → SQL). */
export function migrationProject(
  files: Readonly<Record<string, string>>,
  urls: { local: string; cloud?: string },
): MigrationProject {
  const dir = tempDir('migrations');
  const migrationsDir = path.join(dir, 'supabase', 'migrations');
  mkdirSync(migrationsDir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(migrationsDir, name), sql);
  const config = loadConfig({
    cwd: dir,
    env: {
      LOCAL_DATABASE_URL: urls.local,
      ...(urls.cloud ? { DATABASE_URL_PRODUCTION: urls.cloud } : {}),
      STACK_DIR: path.join(dir, '.crm-env'),
    },
  });
  return {
    dir,
    migrationsDir,
    config,
    write: (name, sql) => writeFileSync(path.join(migrationsDir, name), sql),
    remove: (name) => rmSync(path.join(migrationsDir, name)),
  };
}

/** The repository's migration file names, in order. */
export function repoMigrationFiles(): string[] {
  return readdirSync(path.resolve('supabase/migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort();
}

/** A project with copies of the repository's migrations plus `extra` files (name → SQL) after them. */
export function repoProjectWith(
  urls: { local: string; cloud?: string },
  extra: Readonly<Record<string, string>>,
): MigrationProject {
  const p = repoMigrationsProject(urls, repoMigrationFiles());
  for (const [name, sql] of Object.entries(extra)) p.write(name, sql);
  return p;
}

/** A project folder holding a copy of the repository's migrations (or only the named ones). */
export function repoMigrationsProject(
  urls: { local: string; cloud?: string },
  names?: readonly string[],
): MigrationProject {
  const p = migrationProject({}, urls);
  const source = path.resolve('supabase/migrations');
  if (names === undefined) {
    rmSync(p.migrationsDir, { recursive: true });
    // A symlinked folder: the CLI reads through it, but its .temp/ lands in the project folder, not the repo.
    symlinkSync(source, p.migrationsDir);
  } else {
    for (const n of names) cpSync(path.join(source, n), path.join(p.migrationsDir, n));
  }
  return p;
}

/** A table with RLS and a policy: passes the lint and the post-migration checks. */
export function tableSql(name: string): string {
  return [
    `create table public.${name} (id bigint generated always as identity primary key, note text);`,
    `alter table public.${name} enable row level security;`,
    `create policy ${name}_read on public.${name} for select to authenticated using (true);`,
    '',
  ].join('\n');
}

/** Runs the real Supabase CLI (node_modules/.bin/supabase) in `cwd`; returns stdout+stderr. */
export async function supabaseCli(args: readonly string[], cwd: string): Promise<string> {
  const bin = path.resolve('node_modules/.bin/supabase');
  const { stdout, stderr } = await run(bin, [...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: cwd,
      SUPABASE_TELEMETRY_DISABLED: '1',
      DO_NOT_TRACK: '1',
    },
    // No deadline of its own: the test's timeout is the hang guard (a busy machine is slow, not broken).
  });
  return `${stdout}\n${stderr}`;
}

/** The CLI's `--db-url` form of a test URL (the local test servers have no TLS). */
export function cliDbUrl(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`;
}

/** Parses `supabase migration list`: versions in the Local and Remote columns. */
export function parseMigrationList(output: string): { local: string[]; remote: string[] } {
  const local: string[] = [];
  const remote: string[] = [];
  for (const line of output.split('\n')) {
    const cells = line.split('|').map((c) => c.replace(/`/g, '').trim());
    if (cells.length < 3 || !/^\d*$/.test(cells[0]!) || !/^\d*$/.test(cells[1]!)) continue;
    if (cells[0]) local.push(cells[0]);
    if (cells[1]) remote.push(cells[1]);
  }
  return { local, remote };
}
