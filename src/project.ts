/**
 * Where the project is: the nearest folder, from the working directory upwards, that holds a Supabase
 * project (`supabase/config.toml` or `supabase/migrations/`), as the Supabase CLI finds it. Every
 * command runs against that folder, so running from a subfolder means the same as from the root.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

function isProjectRoot(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'supabase', 'config.toml')) ||
    existsSync(path.join(dir, 'supabase', 'migrations'))
  );
}

/**
 * The project folder for `cwd`.
 * @throws ConfigError (exit 2) when neither `cwd` nor any folder above it holds a Supabase project.
 */
export function findProjectRoot(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (isProjectRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new ConfigError(
    `No Supabase project here: neither ${path.resolve(cwd)} nor any folder above it has supabase/config.toml or supabase/migrations/. Run crm-env from your project (or create one with \`npx supabase init\`); nothing was changed.`,
  );
}
