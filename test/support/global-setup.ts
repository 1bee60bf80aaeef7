/**
 * Starts one pair of real PostgreSQL servers ("local" and "cloud") for the whole test run, with the
 * same server code the embedded stack uses, builds template databases once, and stops everything at
 * the end, even when tests fail.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

declare module 'vitest' {
  export interface ProvidedContext {
    pgServers: { local: TestServer; cloud: TestServer };
  }
}

export interface TestServer {
  readonly port: number;
  readonly password: string;
  readonly binDir: string;
}

const FAST = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

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
      dataDir: path.join(root, name, 'data'),
      port: await freePort(),
      password: randomBytes(12).toString('hex'),
      settings: FAST,
    });
  }
  const stop = async (): Promise<void> => {
    await Promise.allSettled(specs.map((s) => stopServer(s)));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      specs.map(async (spec) => {
        await initCluster(spec);
        await startServer(spec);
        await preparePostgresRole(spec);
        await buildTemplates(spec);
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const [local, cloud] = specs as [ServerSpec, ServerSpec];
  project.provide('pgServers', {
    local: { port: local.port, password: local.password, binDir: bins.binDir },
    cloud: { port: cloud.port, password: cloud.password, binDir: bins.binDir },
  });
  return stop;
}
