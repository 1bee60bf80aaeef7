/**
 * The embedded local stack: two real PostgreSQL servers standing in for Supabase without Docker —
 * "local" (LOCAL_DB_PORT, default 54322, Supabase's local port) and a "sandbox cloud"
 * (SANDBOX_DB_PORT, default 54332) to push to safely. Data lives under STACK_DIR (default .crm-env/).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import { withClient } from '../db/connect.js';
import { ConfigError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { applyBaseSchema } from './base-schema.js';
import { findPgBinaries } from './pg-binaries.js';
import { configuredMajorVersion } from './supabase-config.js';
import type { ServerSpec } from './server.js';
import {
  initCluster,
  isRunning,
  portInUse,
  preparePostgresRole,
  serverUrl,
  serverUserCanReach,
  startServer,
  stopServer,
} from './server.js';

export type StackServerName = 'local' | 'sandbox';

interface StackState {
  readonly binDir: string;
  /** The PostgreSQL major version the servers run (supabase/config.toml `[db] major_version`). */
  readonly major?: number;
  readonly sandboxPassword: string;
  /** Where the servers' data folders live: the stack folder, or a fallback the server user can reach. */
  readonly dataRoot?: string;
  /** The ports the servers were started on (LOCAL_DB_PORT / SANDBOX_DB_PORT at `stack up`). */
  readonly ports?: Readonly<Record<StackServerName, number>>;
}

/** The local server keeps Supabase's well-known local password, so the default URL just works. */
const LOCAL_PASSWORD = 'postgres';

function statePath(config: Config): string {
  return path.join(config.stack.dir, 'stack.json');
}

function readState(config: Config): StackState | null {
  const file = statePath(config);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackState) : null;
}

function specsFor(config: Config, state: StackState): Record<StackServerName, ServerSpec> {
  return {
    local: {
      name: 'local',
      binDir: state.binDir,
      dataDir: path.join(state.dataRoot ?? config.stack.dir, 'local', 'data'),
      port: config.stack.localPort,
      password: LOCAL_PASSWORD,
    },
    sandbox: {
      name: 'sandbox',
      binDir: state.binDir,
      dataDir: path.join(state.dataRoot ?? config.stack.dir, 'sandbox', 'data'),
      port: config.stack.sandboxPort,
      password: state.sandboxPassword,
    },
  };
}

const PORT_VARIABLE: Readonly<Record<StackServerName, string>> = {
  local: 'LOCAL_DB_PORT',
  sandbox: 'SANDBOX_DB_PORT',
};

/** The port a server of this stack runs on now (line 4 of its postmaster.pid), or null when it is not running. */
function runningPort(spec: ServerSpec): number | null {
  let lines: string[];
  try {
    lines = readFileSync(path.join(spec.dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const [pid, port] = [Number(lines[0]), Number(lines[3])];
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return port;
}

/**
 * Refuses (exit 2, before anything is touched) when a running server of this stack listens on another
 * port than the configuration says, so that no command reports on, or applies anything to, whatever
 * else answers on the configured port. With `urls`, also when the configured local or cloud URL comes
 * from the stack's stack.env but names another port than the configuration (the stack was started with
 * other ports and is not running on them).
 */
export function assertStackPorts(config: Config, scope: 'servers' | 'urls' = 'servers'): void {
  const state = readState(config);
  if (!state) return;
  const specs = specsFor(config, state);
  const fromStack = {
    local: config.local.source === 'stack' ? config.local : null,
    sandbox: config.cloud?.source === 'stack' ? config.cloud : null,
  };
  const problems: string[] = [];
  for (const name of ['local', 'sandbox'] as const) {
    if (scope === 'urls' && fromStack[name] === null) continue;
    const configured = specs[name].port;
    const running = runningPort(specs[name]);
    const urlPort = fromStack[name] ? Number(new URL(fromStack[name].url).port || 5432) : configured;
    if (running !== null && running !== configured)
      problems.push(
        `The embedded stack's ${name} server runs on port ${running}, but ${PORT_VARIABLE[name]} is ${configured}: set ${PORT_VARIABLE[name]}=${running}, or stop the stack first (\`npm run stack:down\`).`,
      );
    else if (scope === 'urls' && urlPort !== configured)
      problems.push(
        `The ${name === 'local' ? 'local' : 'cloud'} URL from the embedded stack (${path.join(config.stack.dir, 'stack.env')}) names port ${urlPort}, but ${PORT_VARIABLE[name]} is ${configured}: run \`npm run stack:up\` to start the stack on ${configured}, or set ${PORT_VARIABLE[name]}=${urlPort}.`,
      );
  }
  if (problems.length > 0)
    throw new ConfigError(`${problems[0]} Nothing was changed.`, { details: problems.slice(1) });
}

/**
 * As root the servers run as the `postgres` OS user, which cannot enter a checkout under a private
 * folder. Then the data folders go to /var/tmp/crm-env-<hash of the stack folder> instead; the
 * connection files stay in the stack folder.
 */
function dataRootFor(config: Config, reporter: Reporter): string {
  if (serverUserCanReach(config.stack.dir)) return config.stack.dir;
  const hash = createHash('sha256').update(config.stack.dir).digest('hex').slice(0, 12);
  const fallback = path.join(os.tmpdir() === '/tmp' ? '/var/tmp' : os.tmpdir(), `crm-env-${hash}`);
  reporter.info(`The postgres OS user cannot enter ${config.stack.dir}; server data goes to ${fallback}.`);
  return fallback;
}

/**
 * A data folder only runs under the major version that created it (PG_VERSION): refuse, before
 * anything is started or written, when supabase/config.toml now names another one.
 */
function refuseOtherMajor(config: Config, spec: ServerSpec, major: number): void {
  const file = path.join(spec.dataDir, 'PG_VERSION');
  if (!existsSync(file)) return;
  const created = Number(readFileSync(file, 'utf8').trim());
  if (created === major) return;
  const dataRoot = path.dirname(path.dirname(spec.dataDir));
  const folders = dataRoot === config.stack.dir ? config.stack.dir : `${config.stack.dir} and ${dataRoot}`;
  throw new ConfigError(
    `The stack's ${spec.name} server data in ${spec.dataDir} was created by PostgreSQL ${created} and cannot run under PostgreSQL ${major} (supabase/config.toml [db] major_version); set major_version back to ${created}, or run \`crm-env stack down\` and delete ${folders} to start over with ${major} (the stack's data is lost).`,
  );
}

export interface StackServerInfo {
  readonly name: StackServerName;
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  readonly answers: boolean;
  /** What `up` did: started it, or found it already running. */
  readonly action?: 'started' | 'already running' | 'stopped' | 'not running';
}

export interface StackUpResult {
  readonly servers: readonly StackServerInfo[];
  readonly binDir: string;
  readonly major: number;
  readonly envFile: string;
  readonly passFile: string;
  readonly migrationsApplied: number;
  readonly ms: number;
}

/** Writes the files that let other commands and shells use the stack without showing passwords. */
function writeConnectionFiles(
  config: Config,
  specs: Record<StackServerName, ServerSpec>,
): { envFile: string; passFile: string } {
  const envFile = path.join(config.stack.dir, 'stack.env');
  const passFile = path.join(config.stack.dir, 'pgpass');
  writeFileSync(
    envFile,
    [
      '# Written by `crm-env stack up`. Lowest-precedence configuration source: .env.production and the',
      '# environment override it. Holds passwords: mode 0600, inside the git-ignored stack folder.',
      `LOCAL_DATABASE_URL=${serverUrl(specs.local)}`,
      `DATABASE_URL_PRODUCTION=${serverUrl(specs.sandbox)}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(
    passFile,
    Object.values(specs)
      .map(
        (s) =>
          `127.0.0.1:${s.port}:*:postgres:${s.password}\n127.0.0.1:${s.port}:*:supabase_admin:${s.password}\n`,
      )
      .join(''),
    { mode: 0o600 },
  );
  return { envFile, passFile };
}

/**
 * Starts both servers (creating them on first use), applies the Supabase base schema and the
 * migrations to each. Idempotent: running servers are reported as already running.
 */
export async function stackUp(config: Config, reporter: Reporter): Promise<StackUpResult> {
  const t0 = performance.now();
  assertStackPorts(config);
  const previous = readState(config);
  const major = configuredMajorVersion(path.dirname(config.migrationsDir));
  const bins = findPgBinaries(config.stack.pgBin, config.projectDir, major);
  const state: StackState = {
    binDir: bins.binDir,
    major: bins.major,
    sandboxPassword: previous?.sandboxPassword ?? randomBytes(18).toString('base64url'),
    dataRoot: previous?.dataRoot ?? dataRootFor(config, reporter),
    ports: { local: config.stack.localPort, sandbox: config.stack.sandboxPort },
  };
  const specs = specsFor(config, state);
  for (const spec of Object.values(specs)) refuseOtherMajor(config, spec, bins.major);
  const infos: StackServerInfo[] = [];
  let migrationsApplied = 0;

  // Refuse ports held by something else before creating anything.
  const running: Record<string, boolean> = {};
  for (const spec of Object.values(specs)) {
    running[spec.name] = await isRunning(spec);
    if (!running[spec.name] && (await portInUse(spec.port))) {
      const variable = spec.name === 'local' ? 'LOCAL_DB_PORT' : 'SANDBOX_DB_PORT';
      throw new ConfigError(
        `Port ${spec.port} for the ${spec.name} server is already used by another program (Docker Supabase?); stop it or set ${variable} to a free port.`,
      );
    }
  }
  mkdirSync(config.stack.dir, { recursive: true, mode: 0o755 });
  writeFileSync(statePath(config), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });

  await Promise.all(
    Object.values(specs).map(async (spec) => {
      const name = spec.name as StackServerName;
      if (running[name]) {
        reporter.info(`${name}: already running on port ${spec.port}`);
      } else {
        const created = await initCluster(spec);
        await startServer(spec);
        await preparePostgresRole(spec);
        reporter.info(`${name}: ${created ? 'created and started' : 'started'} on port ${spec.port}`);
      }
      const base = await applyBaseSchema(serverUrl(spec, 'postgres', 'supabase_admin'));
      if (base === 'skipped-real-supabase')
        reporter.warn(`${name}: Supabase's own auth schema found; base schema skipped.`);
      // Imported here: the runner brings the SQL parser (WASM), which the commands that import this
      // module only for assertStackPorts (every command, at start-up) do not need.
      const { migrateUp } = await import('../migration/runner.js');
      const migrated = await migrateUp(serverUrl(spec), config.migrationsDir, {}, name);
      migrationsApplied += migrated.files.length;
      infos.push({
        name,
        port: spec.port,
        url: serverUrl(spec),
        running: true,
        answers: true,
        action: running[name] ? 'already running' : 'started',
      });
    }),
  );
  const files = writeConnectionFiles(config, specs);
  infos.sort((a, b) => a.name.localeCompare(b.name));
  return {
    servers: infos,
    binDir: bins.binDir,
    major: bins.major,
    ...files,
    migrationsApplied,
    ms: performance.now() - t0,
  };
}

/**
 * Stops the servers this stack started (found by their data folders, never by port, so it also works
 * when the configured ports no longer match: it is the way out of that refusal).
 */
export async function stackDown(config: Config): Promise<StackServerInfo[]> {
  const state = readState(config);
  if (!state) return [];
  const specs = specsFor(config, state);
  const out: StackServerInfo[] = [];
  for (const spec of Object.values(specs)) {
    const port = runningPort(spec) ?? spec.port;
    const wasRunning = await isRunning(spec);
    if (wasRunning) await stopServer(spec);
    out.push({
      name: spec.name as StackServerName,
      port,
      url: serverUrl(spec),
      running: false,
      answers: false,
      action: wasRunning ? 'stopped' : 'not running',
    });
  }
  return out;
}

/** Each server, its port, and whether it answers a query. */
export async function stackStatus(config: Config): Promise<StackServerInfo[] | null> {
  assertStackPorts(config);
  const state = readState(config);
  if (!state) return null;
  const specs = specsFor(config, state);
  return Promise.all(
    Object.values(specs).map(async (spec) => {
      const running = await isRunning(spec);
      let answers = false;
      if (running) {
        answers = await withClient(serverUrl(spec), async (c) => (await c.query('select 1')).rowCount === 1, {
          connectTimeoutMs: 3000,
        }).catch(() => false);
      }
      return { name: spec.name as StackServerName, port: spec.port, url: serverUrl(spec), running, answers };
    }),
  );
}
