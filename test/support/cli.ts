/**
 * Runs the built CLI (bin/crm-env.js → dist/) as a user would, in a given folder and environment.
 * dist/ is rebuilt from src/ once per run, in global setup, before any test starts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { vi } from 'vitest';
import type { Dispatch } from '../../src/cli/program.js';
import { main } from '../../src/cli/program.js';
import { tempDir } from './tmp.js';

const BIN = path.resolve('bin/crm-env.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): CliResult {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ...options.env,
  };
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** {@link runCli} without blocking the worker, so that independent runs can overlap. */
export function runCliAsync(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * A fresh project folder: `supabase/` linked to this repository's (its migrations), or with an empty
 * `supabase/migrations/` of its own when `ownMigrations` (for tests that write migration files).
 */
export function tempProject(options: { ownMigrations?: boolean } = {}): string {
  const dir = tempDir('project');
  if (options.ownMigrations) mkdirSync(path.join(dir, 'supabase', 'migrations'), { recursive: true });
  else symlinkSync(path.resolve('supabase'), path.join(dir, 'supabase'));
  return dir;
}

/** Runs the CLI in this process (no build needed), with its output captured. */
export async function runMain(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; dispatch?: Dispatch },
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  try {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env };
    for (const name of ['PG_BIN', 'PG_DUMP']) if (process.env[name]) env[name] ??= process.env[name];
    const code = await main(args, { cwd: options.cwd, env, dispatch: options.dispatch });
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
