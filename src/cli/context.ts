/**
 * What every command action needs: the configuration (read once per run) and an output.
 */
import type { Config } from '../config.js';
import { loadConfig } from '../config.js';
import { assertEnvProductionNotTracked } from '../safety.js';
import type { Output } from './output.js';
import { createOutput } from './output.js';

let secrets: readonly string[] = [];

/** Passwords of the configured URLs, so that error output can be redacted even for driver text. */
export function knownSecrets(): readonly string[] {
  return secrets;
}

export interface CommandContext {
  readonly config: Config;
  readonly out: Output;
}

/** Loads the configuration from the process environment and the .env files of the current folder. */
export function commandContext(options: { json?: boolean } = {}): CommandContext {
  const config = loadConfig({ cwd: process.cwd(), env: process.env });
  secrets = config.secrets;
  assertEnvProductionNotTracked(config.projectDir);
  return { config, out: createOutput({ json: options.json ?? false, secrets }) };
}
