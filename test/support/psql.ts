/**
 * Stock psql — the one next to the run's server binaries, not whatever PATH finds — running a SQL
 * file in one transaction as the URL's role, the password through the environment (never argv).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';

export function psqlFile(url: string, file: string): void {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const psql = path.join(inject('pgServers').local.binDir, 'psql');
  execFileSync(psql, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', file, u.toString()], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}
