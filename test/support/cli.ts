/**
 * Runs the built CLI (bin/crm-env.js → dist/) as a user would, in a given folder and environment.
 * dist/ is rebuilt from src/ once per run, in global setup, before any test starts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

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
