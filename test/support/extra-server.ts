/**
 * A PostgreSQL server of a test file's own, for what the run's shared servers must not change: SSL
 * with a private CA, pg_hba rules, a password of a given shape. Same code as the embedded stack.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import type { ServerSpec } from '../../src/stack/server.js';
import {
  initCluster,
  preparePostgresRole,
  serverUrl,
  startServer,
  stopServer,
} from '../../src/stack/server.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface ExtraServer {
  readonly spec: ServerSpec;
  /** A folder the server's OS user can read (for certificate files). */
  readonly dir: string;
  url(database?: string, user?: string): string;
  stop(): Promise<void>;
}

/** The uid/gid the servers run as (the `postgres` OS user when we are root), or null. */
export function serverOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/** Writes a file the server can read and nobody else (0600, owned by the server's OS user). */
export function writeServerFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  const owner = serverOwner();
  if (owner) chownSync(file, owner.uid, owner.gid);
}

export async function startExtraServer(options: {
  readonly password: string;
  readonly settings?: Readonly<Record<string, string>>;
  /** Replaces pg_hba.conf before the first start. */
  readonly hba?: string;
  /** Runs after initdb, before the first start (e.g. writes certificates into `dir`); returns settings. */
  readonly prepare?: (dir: string) => Readonly<Record<string, string>>;
}): Promise<ExtraServer> {
  const dir = tempDir('extra');
  chmodSync(dir, 0o755);
  let spec: ServerSpec = {
    name: 'extra',
    binDir: inject('pgServers').local.binDir,
    dataDir: path.join(dir, 'data'),
    port: await freePort(),
    password: options.password,
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...options.settings },
  };
  const stop = async (): Promise<void> => {
    await stopServer(spec).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await initCluster(spec);
    spec = { ...spec, settings: { ...spec.settings, ...options.prepare?.(dir) } };
    if (options.hba !== undefined) writeServerFile(path.join(spec.dataDir, 'pg_hba.conf'), options.hba);
    await startServer(spec);
    await preparePostgresRole(spec);
  } catch (err) {
    await stop();
    throw err;
  }
  return { spec, dir, url: (db = 'postgres', user = 'postgres') => serverUrl(spec, db, user), stop };
}
