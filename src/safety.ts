/**
 * Guards that run before any command touches a database.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

/**
 * Refuses to go on when `.env.production` is tracked by git: it holds the cloud password, and a
 * tracked copy is one push away from being public.
 */
export function assertEnvProductionNotTracked(projectDir: string): void {
  if (!existsSync(path.join(projectDir, '.env.production'))) return;
  try {
    execFileSync('git', ['ls-files', '--error-unmatch', '.env.production'], {
      cwd: projectDir,
      stdio: 'ignore',
    });
  } catch {
    return; // not tracked, or not a git checkout
  }
  throw new ConfigError(
    '.env.production is tracked by git and holds the cloud password: run `git rm --cached .env.production`, rotate the password, and try again.',
  );
}
