/**
 * Hostile class: interrupts in each phase of push, reset, restore and deploy — Ctrl-C (SIGINT to the
 * CLI process), SIGKILL, the command's backend killed by the server (pg_terminate_backend), and the
 * server stopped. A phase is reached by observable state, never by timing: a session of the test holds
 * a lock the phase needs, and the case waits until pg_stat_activity shows the command waiting on it.
 * Every case then asserts the outcome (exit 1 with one clear sentence; for SIGKILL, killed) and that
 * both databases hold exactly what they held before — except a reset interrupted after local
 * committed, which must leave the cloud unchanged and say so.
 */
import { chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/connect.js';
import { createBackup } from '../../src/migration/backup.js';
import { migrateUp } from '../../src/migration/runner.js';
import { applyBaseSchema } from '../../src/stack/base-schema.js';
import { findPgBinaries } from '../../src/stack/pg-binaries.js';
import type { ServerSpec } from '../../src/stack/server.js';
import {
  initCluster,
  preparePostgresRole,
  serverUrl,
  startServer,
  stopServer,
} from '../../src/stack/server.js';
import { testConfig } from '../support/config.js';
import { createTestDatabase, superuserUrl } from '../support/db.js';
import { insertCrmDataset } from '../support/fixtures.js';
import { freePort } from '../support/ports.js';
import type { CliRun, Via } from './support.js';
import {
  addDumpProbe,
  contentOfAll,
  envFor,
  expectOneClearSentence,
  hold,
  LOCK_DUMP_PROBE,
  PENDING_MIGRATION,
  project,
  removeTempFolders,
  seededPair,
  start,
  USUAL,
  waitingOnLock,
  waitUntil,
} from './support.js';
import { tempDir } from '../support/tmp.js';

interface Urls {
  readonly local: string;
  readonly cloud: string;
}

type Command = 'push' | 'reset' | 'restore' | 'deploy';

/** A phase of a command, and how to hold the command there. */
interface Phase {
  readonly command: Command;
  readonly phase: string;
  /** Takes the locks that stop the command in this phase (before it starts); returns the holders. */
  block(u: Urls): Promise<pg.Client[]>;
  /** Where and how the command shows it waits in this phase (after `advance`, if any). */
  readonly waitsOn: { readonly side: keyof Urls; readonly app?: string; readonly query?: string };
  /** A phase reached in two moves (deploy's apply): called once the first wait is seen. */
  advance?(u: Urls, held: pg.Client[], run: CliRun): Promise<pg.Client[]>;
  /** A reset interrupted after local committed: only the cloud must be unchanged. */
  readonly localCommitted?: boolean;
}

const ACCESS_EXCLUSIVE = (table: string): string => `lock table ${table} in access exclusive mode`;
const READING = (table: string): string => `select 1 from ${table} limit 1`;

const PHASES: readonly Phase[] = [
  {
    command: 'push',
    phase: 'preflight',
    block: async (u) => [await hold(u.cloud, ACCESS_EXCLUSIVE('public.sales'))],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'push',
    phase: 'backup',
    block: async (u) => [await hold(u.cloud, ACCESS_EXCLUSIVE('auth.identities'))],
    waitsOn: { side: 'cloud', query: '%identities%' },
  },
  {
    command: 'push',
    phase: 'load',
    block: async (u) => [
      await hold(u.cloud, `select 1 from auth.users where email = 'admin@test.local' for update`),
    ],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'push',
    phase: 'verify',
    block: async (u) => [await hold(u.cloud, ACCESS_EXCLUSIVE('supabase_migrations.schema_migrations'))],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'reset',
    phase: 'preflight',
    block: async (u) => [await hold(u.cloud, ACCESS_EXCLUSIVE('public.sales'))],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'reset',
    phase: 'local backup',
    block: async (u) => {
      await addDumpProbe(u.local);
      return [await hold(u.local, LOCK_DUMP_PROBE)];
    },
    waitsOn: { side: 'local', app: 'crm-env backup' },
  },
  {
    command: 'reset',
    phase: 'cloud backup',
    block: async (u) => {
      await addDumpProbe(u.cloud);
      return [await hold(u.cloud, LOCK_DUMP_PROBE)];
    },
    waitsOn: { side: 'cloud', app: 'crm-env backup' },
  },
  {
    command: 'reset',
    phase: 'local rebuild',
    block: async (u) => [await hold(u.local, READING('public.tasks'))],
    waitsOn: { side: 'local' },
  },
  {
    command: 'reset',
    phase: 'cloud push (after local committed)',
    block: async (u) => [await hold(u.cloud, 'lock table public.tasks in row exclusive mode')],
    waitsOn: { side: 'cloud' },
    localCommitted: true,
  },
  {
    command: 'restore',
    phase: 'safety backup',
    block: async (u) => {
      await addDumpProbe(u.cloud);
      return [await hold(u.cloud, LOCK_DUMP_PROBE)];
    },
    waitsOn: { side: 'cloud', app: 'crm-env backup' },
  },
  {
    command: 'restore',
    phase: 'transaction',
    block: async (u) => [await hold(u.cloud, READING('public.tasks'))],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'deploy',
    phase: 'preflight',
    block: async (u) => [await hold(u.cloud, ACCESS_EXCLUSIVE('supabase_migrations.schema_migrations'))],
    waitsOn: { side: 'cloud' },
  },
  {
    command: 'deploy',
    phase: 'dry run',
    block: async (u) => [await hold(u.cloud, READING('public.tasks'))],
    waitsOn: { side: 'cloud', query: '%hostile_note%' },
  },
  {
    command: 'deploy',
    phase: 'backup',
    block: async (u) => {
      await addDumpProbe(u.cloud);
      return [await hold(u.cloud, LOCK_DUMP_PROBE)];
    },
    waitsOn: { side: 'cloud', app: 'crm-env backup' },
  },
  {
    command: 'deploy',
    phase: 'apply',
    // pg_dump waits on the probe; then a reader takes tasks and the probe is released, so the backup
    // finishes and the apply's ALTER waits on the reader.
    block: async (u) => {
      await addDumpProbe(u.cloud);
      return [await hold(u.cloud, LOCK_DUMP_PROBE)];
    },
    advance: async (u, held, run) => {
      await waitUntil(u.cloud, waitingOnLock('crm-env backup'), run);
      const reader = await hold(u.cloud, READING('public.tasks'));
      await Promise.all(held.map((c) => c.end()));
      return [reader];
    },
    waitsOn: { side: 'cloud', app: 'crm-env', query: '%hostile_note%' },
  },
];

function phase(command: Command, name: string): Phase {
  return PHASES.find((p) => p.command === command && p.phase === name)!;
}

/** The CLI arguments of each command (deploy and restore go to the cloud). */
function argsFor(command: Command, backupFile: string): string[] {
  switch (command) {
    case 'push':
      return ['sync', 'push', '--force'];
    case 'reset':
      return ['reset', '--yes'];
    case 'restore':
      return ['restore', backupFile, '--target', 'cloud', '--yes'];
    case 'deploy':
      return ['migrate', 'deploy', 'cloud', '--yes'];
  }
}

let otherBackup = '';
beforeAll(async () => {
  // A full backup of another CRM database with other data: restoring it would change the target.
  const other = await createTestDatabase({ server: 'cloud' });
  await insertCrmDataset(other, { tag: 'other', segments: 1 });
  otherBackup = (
    await createBackup(testConfig({ local: other }), { label: 'custom', url: other, source: 'argument' })
  ).file;
});
afterAll(removeTempFolders);

/** No crm-env session is left on the database (a killed client's backend has rolled back and gone). */
function noCrmEnvSessions(): string {
  return `select 1 where not exists (select 1 from pg_stat_activity
    where datname = $1 and application_name like 'crm-env%' and pid <> pg_backend_pid())`;
}

/** Starts the command, holds it in `p`, and returns the run and what to release. */
async function startInPhase(p: Phase, u: Urls, via: Via): Promise<{ run: CliRun; held: pg.Client[] }> {
  const dir = project(p.command === 'deploy' ? PENDING_MIGRATION : {});
  let held = await p.block(u);
  const run = start(via, argsFor(p.command, otherBackup), dir, envFor(dir, u));
  if (p.advance) held = await p.advance(u, held, run);
  await waitUntil(u[p.waitsOn.side], waitingOnLock(p.waitsOn.app, p.waitsOn.query), run);
  return { run, held };
}

async function release(held: readonly pg.Client[]): Promise<void> {
  await Promise.allSettled(held.map((c) => c.end()));
}

/** The content after the case equals the content before (local excepted after a local commit). */
async function expectUnchanged(p: Phase, u: Urls, before: Awaited<ReturnType<typeof contentOfAll>>) {
  const after = await contentOfAll([u.local, u.cloud]);
  expect(after[1]).toEqual(before[1]);
  if (!p.localCommitted) expect(after[0]).toEqual(before[0]);
}

/** One phase per command takes the real SIGINT to the CLI process; the others abort in-process. */
const SIGINT_TO_PROCESS = new Set([
  'push: load',
  'reset: local backup',
  'restore: transaction',
  'deploy: apply',
]);

describe('Ctrl-C in each phase (SIGINT to the CLI, or the abort signal in-process): exit 1, one sentence, nothing changed', () => {
  const cases = PHASES.map((p) => {
    const name = `${p.command}: ${p.phase}`;
    return { ...p, name, via: (SIGINT_TO_PROCESS.has(name) ? 'cli' : 'library') as Via };
  });
  it.concurrent.each(cases)('$name ($via)', async (p) => {
    const u = await seededPair(USUAL);
    const before = await contentOfAll([u.local, u.cloud]);
    const { run, held } = await startInPhase(p, u, p.via);
    run.interrupt();
    const r = await run.done;
    await release(held);
    expect(r.code, r.stderr).toBe(1);
    expectOneClearSentence(r.stderr);
    await expectUnchanged(p, u, before);
  });
});

const CRITICAL = [
  phase('push', 'load'),
  phase('reset', 'local rebuild'),
  phase('restore', 'transaction'),
  phase('deploy', 'apply'),
];

describe('SIGKILL of the CLI in the phase that holds the transaction: nothing changed', () => {
  it.concurrent.each(CRITICAL.map((p) => ({ ...p, name: `${p.command}: ${p.phase}` })))(
    '$name',
    async (p) => {
      const u = await seededPair(USUAL);
      const before = await contentOfAll([u.local, u.cloud]);
      const { run, held } = await startInPhase(p, u, 'cli');
      run.child!.kill('SIGKILL');
      const r = await run.done;
      expect(r.signal).toBe('SIGKILL');
      await release(held);
      // The orphaned backend gets its lock, finds its client gone, and rolls back.
      await Promise.all([waitUntil(u.local, noCrmEnvSessions()), waitUntil(u.cloud, noCrmEnvSessions())]);
      await expectUnchanged(p, u, before);
    },
  );
});

describe("the command's backend killed by the server (pg_terminate_backend): exit 1, one sentence, nothing changed", () => {
  it.concurrent.each(CRITICAL.map((p) => ({ ...p, name: `${p.command}: ${p.phase}` })))(
    '$name',
    async (p) => {
      const u = await seededPair(USUAL);
      const before = await contentOfAll([u.local, u.cloud]);
      const { run, held } = await startInPhase(p, u, 'library');
      const url = u[p.waitsOn.side];
      await withClient(superuserUrl(url), (c) =>
        c.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = $1 and application_name = 'crm-env' and wait_event_type = 'Lock'`,
          [decodeURIComponent(new URL(url).pathname.slice(1))],
        ),
      );
      const r = await run.done;
      await release(held);
      expect(r.code, r.stderr).toBe(1);
      expectOneClearSentence(r.stderr);
      await expectUnchanged(p, u, before);
    },
  );
});

describe.sequential(
  'the server stopped in the phase that holds the transaction: exit 1, one sentence, nothing changed',
  () => {
    let spec: ServerSpec;
    let root = '';
    beforeAll(async () => {
      root = tempDir('hostile-server');
      chmodSync(root, 0o755);
      spec = {
        name: 'stoppable',
        binDir: findPgBinaries(process.env.PG_BIN ?? null, process.cwd()).binDir,
        dataDir: path.join(root, 'data'),
        port: await freePort(),
        password: randomBytes(12).toString('hex'),
        settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
      };
      await initCluster(spec);
      await startServer(spec);
      await preparePostgresRole(spec);
      await withClient(serverUrl(spec, 'postgres', 'supabase_admin'), (c) =>
        c.query('create database tpl_base owner postgres'),
      );
      await applyBaseSchema(serverUrl(spec, 'tpl_base', 'supabase_admin'));
      await migrateUp(serverUrl(spec, 'tpl_base'), path.resolve('supabase/migrations'));
    }, 180_000);
    afterAll(async () => {
      if (spec) await stopServer(spec).catch(() => undefined);
      if (root) rmSync(root, { recursive: true, force: true });
    });

    /** A fresh CRM database on the stoppable server. */
    async function stoppableDatabase(): Promise<string> {
      const db = `t_${randomBytes(6).toString('hex')}`;
      await withClient(serverUrl(spec, 'postgres', 'supabase_admin'), (c) =>
        c.query(`create database ${db} template tpl_base owner postgres`),
      );
      return serverUrl(spec, db);
    }

    it.each(CRITICAL.map((p) => ({ ...p, name: `${p.command}: ${p.phase}` })))('$name', async (p) => {
      const pair = await seededPair(USUAL);
      // The database whose transaction is open lives on the server that is stopped.
      const u: Urls = { ...pair, [p.waitsOn.side]: await stoppableDatabase() };
      await insertCrmDataset(u[p.waitsOn.side], (p.waitsOn.side === 'local' ? USUAL.local : USUAL.cloud)!);
      const before = await contentOfAll([u.local, u.cloud]);
      const { run, held } = await startInPhase(p, u, 'library');
      await stopServer(spec);
      const r = await run.done;
      await release(held);
      await startServer(spec);
      expect(r.code, r.stderr).toBe(1);
      expectOneClearSentence(r.stderr);
      await expectUnchanged(p, u, before);
    });
  },
);
