/**
 * A real pgbouncer (Debian package `pgbouncer`) in front of one of the run's servers, in session or
 * transaction mode, as Supabase's poolers on ports 5432 and 6543 are.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { serverOwner } from './extra-server.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface Pgbouncer {
  readonly port: number;
  stop(): Promise<void>;
}

const BINARY = [
  '/usr/sbin/pgbouncer',
  '/usr/bin/pgbouncer',
  '/usr/local/bin/pgbouncer',
  '/opt/homebrew/bin/pgbouncer',
].find((p) => existsSync(p));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts pgbouncer for every database of 127.0.0.1:`serverPort`, user `postgres` with `password`. */
export async function startPgbouncer(options: {
  readonly serverPort: number;
  readonly password: string;
  readonly mode: 'session' | 'transaction';
}): Promise<Pgbouncer> {
  if (BINARY === undefined) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const dir = tempDir('pgbouncer');
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(path.join(dir, 'users.txt'), `"postgres" "${options.password}"\n`, { mode: 0o600 });
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=127.0.0.1 port=${options.serverPort}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      `pool_mode = ${options.mode}`,
      'default_pool_size = 10',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      // Read by the run's teardown (test/support/leftovers.ts) should a test end without stop().
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const owner = serverOwner();
  if (owner) {
    chmodSync(dir, 0o755);
    for (const f of [dir, ini, path.join(dir, 'users.txt')]) chownSync(f, owner.uid, owner.gid);
  }
  const child: ChildProcess = spawn(BINARY, owner ? ['-u', 'postgres', ini] : [ini], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when it accepts connections (or gone, when it failed to start).
  while (!(await accepts(port))) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`pgbouncer did not start (exit ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stop };
}
