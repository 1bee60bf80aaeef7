/**
 * The run's safety net: servers a test started under the root temporary folder (the embedded stack,
 * run through the CLI, or a test's own server) are stopped at the end even when the test failed
 * before its own clean-up, as are pgbouncers (their pid files) and file systems mounted there; server
 * data the stack moved out of the folder (as root, to /var/tmp/crm-env-<hash>) is removed.
 */
import { spawnSync } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stopServer } from '../../src/stack/server.js';

/** Folders under `dir` (symlinks not followed) for which `match` holds, down to `depth` levels. */
function findDirs(dir: string, match: (dir: string) => boolean, depth = 6): string[] {
  if (match(dir)) return [dir];
  if (depth === 0) return [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory())
    .flatMap((e) => findDirs(path.join(dir, e.name), match, depth - 1));
}

/** The data folders a stack under `root` placed outside it (stack.json's `dataRoot`). */
function movedDataRoots(root: string): string[] {
  const stackDirs = findDirs(root, (d) => existsSync(path.join(d, 'stack.json')));
  const roots: string[] = [];
  for (const d of stackDirs) {
    try {
      const state = JSON.parse(readFileSync(path.join(d, 'stack.json'), 'utf8')) as { dataRoot?: string };
      if (state.dataRoot && !path.resolve(state.dataRoot).startsWith(`${root}${path.sep}`))
        roots.push(path.resolve(state.dataRoot));
    } catch {
      // A half-written stack.json: nothing recorded to clean.
    }
  }
  return roots;
}

/** Ends the pgbouncers whose pid file lies under `root` (test/support/pgbouncer.ts). */
function stopLeftoverPgbouncers(root: string): void {
  for (const dir of findDirs(root, (d) => existsSync(path.join(d, 'pgbouncer.pid')))) {
    const pid = Number(readFileSync(path.join(dir, 'pgbouncer.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
}

/** Unmounts what a test mounted under `root` (the hostile suite's tmpfs backup folders). */
function unmountUnder(root: string): void {
  if (!existsSync('/proc/mounts')) return;
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && m.startsWith(`${root}${path.sep}`));
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
}

/**
 * Stops every PostgreSQL server whose data folder lies under `root` or a folder a stack moved out of
 * it, every pgbouncer and mount left under `root`, and removes the moved folders.
 */
export async function stopLeftoverServers(root: string, binDir: string): Promise<void> {
  stopLeftoverPgbouncers(root);
  unmountUnder(root);
  const moved = movedDataRoots(root);
  const dataDirs = [root, ...moved].flatMap((r) =>
    findDirs(r, (d) => existsSync(path.join(d, 'postmaster.pid'))),
  );
  await Promise.allSettled(
    dataDirs.map((dataDir) => stopServer({ name: 'leftover', binDir, dataDir, port: 0, password: '' })),
  );
  for (const m of moved) rmSync(m, { recursive: true, force: true });
}
