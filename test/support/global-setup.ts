/**
 * Once per test run: rebuilds dist/ (CLI tests run the build, never a stale one), creates one root
 * temporary folder every test folder goes under, starts one pair of real PostgreSQL servers ("local"
 * and "cloud") with the same server code the embedded stack uses and builds template databases on
 * them. The teardown stops every server the run started — these two and any a test left running
 * under the root folder — and removes the root folder and any server data a stack test moved out of
 * it, also when tests failed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { withClient } from '../../src/db/connect.js';
import { migrateUp } from '../../src/migration/runner.js';
import { applyBaseSchema } from '../../src/stack/base-schema.js';
import { findPgBinaries } from '../../src/stack/pg-binaries.js';
import { configuredMajorVersion } from '../../src/stack/supabase-config.js';
import type { ServerSpec } from '../../src/stack/server.js';
import {
  initCluster,
  preparePostgresRole,
  serverUrl,
  startServer,
  stopServer,
} from '../../src/stack/server.js';
import { freePort } from './ports.js';
import { stopLeftoverServers } from './leftovers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServers: { local: TestServer; cloud: TestServer };
    /** The run's root temporary folder (mode 0755); see test/support/tmp.ts. */
    tmpRoot: string;
  }
}

export interface TestServer {
  readonly port: number;
  readonly password: string;
  readonly binDir: string;
}

const FAST = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

/**
 * A clean build of dist/ from src/ (no files left from modules that no longer exist). `--noCheck`
 * emits the same files as `npm run build` without type-checking them again (half its CPU time):
 * types are `npm run typecheck`'s job, as vitest's own transform does not check them either.
 */
async function buildDist(): Promise<void> {
  rmSync(path.resolve('dist'), { recursive: true, force: true });
  const tsc = path.resolve('node_modules/typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--noCheck'], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  });
}

async function buildTemplates(spec: ServerSpec): Promise<void> {
  const admin = serverUrl(spec, 'postgres', 'supabase_admin');
  await withClient(admin, async (c) => {
    await c.query('create database tpl_base owner postgres');
  });
  await applyBaseSchema(serverUrl(spec, 'tpl_base', 'supabase_admin'));
  await withClient(admin, async (c) => {
    await c.query('create database tpl_crm template tpl_base owner postgres');
  });
  await migrateUp(serverUrl(spec, 'tpl_crm'), path.resolve('supabase/migrations'));
  await withClient(admin, async (c) => {
    // Templates must have no sessions when cloned; forbid connections outright.
    await c.query(
      `update pg_database set datistemplate = true, datallowconn = false where datname in ('tpl_base', 'tpl_crm')`,
    );
  });
}

async function startTestServer(spec: ServerSpec): Promise<void> {
  await initCluster(spec);
  await startServer(spec);
  await preparePostgresRole(spec);
  await buildTemplates(spec);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The project's major version (supabase/config.toml), as the embedded stack runs it.
  const bins = findPgBinaries(process.env.PG_BIN ?? null, process.cwd(), configuredMajorVersion('supabase'));
  const root = mkdtempSync(path.join(os.tmpdir(), 'crm-env-test-'));
  // The servers run as the `postgres` OS user when we are root: it must be able to enter this folder.
  chmodSync(root, 0o755);
  const specs: ServerSpec[] = [];
  for (const name of ['local', 'cloud'] as const) {
    specs.push({
      name,
      binDir: bins.binDir,
      dataDir: path.join(root, 'servers', name, 'data'),
      port: await freePort(),
      password: randomBytes(12).toString('hex'),
      settings: FAST,
    });
  }
  const teardown = async (): Promise<void> => {
    await Promise.allSettled(specs.map((s) => stopServer(s)));
    await stopLeftoverServers(root, bins.binDir);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all([buildDist(), ...specs.map(startTestServer)]);
  } catch (err) {
    await teardown();
    throw err;
  }
  const [local, cloud] = specs as [ServerSpec, ServerSpec];
  project.provide('pgServers', {
    local: { port: local.port, password: local.password, binDir: bins.binDir },
    cloud: { port: cloud.port, password: cloud.password, binDir: bins.binDir },
  });
  project.provide('tmpRoot', root);
  return teardown;
}
