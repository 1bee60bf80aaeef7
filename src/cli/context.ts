/**
 * What every command action needs: the configuration (read once per run) and an output.
 */
import type { Config } from '../config.js';
import { loadConfig } from '../config.js';
import { findProjectRoot } from '../project.js';
import { assertEnvProductionNotTracked } from '../safety.js';
import { assertStackPorts } from '../stack/stack.js';
import type { Output } from './output.js';
import { createOutput } from './output.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * One CLI run. Created by `main()` with the process's environment and working directory, handed to
 * the command, and read back by the one top-level catch: the passwords of the configured URLs (so any
 * error text is redacted), whether `--json` was asked for, and the result the command recorded.
 */
export interface CliSession {
  readonly env: Environment;
  readonly cwd: string;
  /** The command being run ("migrate deploy"), once known. */
  command: string | null;
  /** `--json` was given: exactly one JSON document goes to stdout, on success and on failure. */
  json: boolean;
  secrets: readonly string[];
  /** The project folder, once found (JSON paths are shown relative to it). */
  projectDir: string | null;
  /** The command's machine-readable result (or what it had when it failed). */
  result: object | null;
  /** The exit code the command returned (null until it has run). */
  exitCode: number | null;
}

export function newSession(options: { env?: Environment; cwd?: string } = {}): CliSession {
  return {
    env: options.env ?? {},
    cwd: options.cwd ?? '.',
    command: null,
    json: false,
    secrets: [],
    projectDir: null,
    result: null,
    exitCode: null,
  };
}

export interface CommandContext {
  readonly config: Config;
  readonly out: Output;
}

/**
 * Finds the project (walking up from the working directory), loads its configuration from the
 * environment and the project's .env files, and refuses (exit 2) when the URLs taken from the
 * embedded stack do not match its configured ports. `stackUrls: false` for the commands that manage
 * the stack themselves (stack, demo).
 */
export function commandContext(session: CliSession, options: { stackUrls?: boolean } = {}): CommandContext {
  const projectDir = findProjectRoot(session.cwd);
  session.projectDir = projectDir;
  const config = loadConfig({ cwd: projectDir, env: session.env });
  session.secrets = config.secrets;
  assertEnvProductionNotTracked(config.projectDir);
  if (options.stackUrls !== false) assertStackPorts(config, 'urls');
  const out = createOutput({
    json: session.json,
    secrets: config.secrets,
    onResult: (value) => {
      session.result = value;
    },
  });
  return { config, out };
}
