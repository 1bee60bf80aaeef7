/**
 * The run's safety net: servers a test started under the root temporary folder (the embedded stack,
 * run through the CLI) are stopped at the end even when the test failed before its own clean-up, and
 * server data the stack moved out of the folder (as root, to /var/tmp/crm-env-<hash>) is removed.
 */
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

/** Stops every PostgreSQL server whose data folder lies under `root` or a folder a stack moved out of it. */
export async function stopLeftoverServers(root: string, binDir: string): Promise<void> {
  const moved = movedDataRoots(root);
  const dataDirs = [root, ...moved].flatMap((r) =>
    findDirs(r, (d) => existsSync(path.join(d, 'postmaster.pid'))),
  );
  await Promise.allSettled(
    dataDirs.map((dataDir) => stopServer({ name: 'leftover', binDir, dataDir, port: 0, password: '' })),
  );
  for (const m of moved) rmSync(m, { recursive: true, force: true });
}
