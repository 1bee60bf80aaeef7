/**
 * What every command action needs: the configuration (read once per run) and an output.
 */
import type { Config } from '../config.js';
import { loadConfig } from '../config.js';
import { assertEnvProductionNotTracked } from '../safety.js';
import type { Output } from './output.js';
import { createOutput } from './output.js';

/**
 * One CLI run. Created by `main()`, handed to the command, and read back by the one top-level catch:
 * the passwords of the configured URLs, so that any error text (driver messages included) is redacted.
 */
export interface CliSession {
  secrets: readonly string[];
}

export function newSession(): CliSession {
  return { secrets: [] };
}

export interface CommandContext {
  readonly config: Config;
  readonly out: Output;
}

/** Loads the configuration from the process environment and the .env files of the current folder. */
export function commandContext(session: CliSession, options: { json?: boolean } = {}): CommandContext {
  const config = loadConfig({ cwd: process.cwd(), env: process.env });
  session.secrets = config.secrets;
  assertEnvProductionNotTracked(config.projectDir);
  return { config, out: createOutput({ json: options.json ?? false, secrets: config.secrets }) };
}
