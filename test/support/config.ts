/**
 * A real Config for tests, read through loadConfig exactly as the CLI does, with the project folder
 * in a fresh temporary directory (backups land there) and migrations taken from this repository.
 */
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import { tempDir } from './tmp.js';

export interface TestConfigOptions {
  readonly local: string;
  readonly cloud?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export function testConfig(options: TestConfigOptions): Config {
  const dir = tempDir('project');
  // The project's migrations, so commands that read supabase/migrations see the real ones.
  symlinkSync(path.resolve('supabase'), path.join(dir, 'supabase'));
  return loadConfig({
    cwd: dir,
    env: {
      LOCAL_DATABASE_URL: options.local,
      ...(options.cloud ? { DATABASE_URL_PRODUCTION: options.cloud } : {}),
      STACK_DIR: path.join(dir, '.crm-env'),
      ...options.env,
    },
  });
}
