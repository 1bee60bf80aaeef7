/**
 * Hostile class: unwritable, missing-and-uncreatable, and too-small backup folders, for every command
 * that backs up (sync push, reset, restore, migrate deploy). The preflight refuses before anything
 * changes: exit 2, one sentence, both databases byte-identical. The read-only and the full folder are
 * real file systems (a tmpfs mounted on the folder), so these cases need root; without it they are
 * skipped, saying so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  contentOfAll,
  envFor,
  expectOneClearSentence,
  PENDING_MIGRATION,
  project,
  removeTempFolders,
  runCli,
  seededPair,
  USUAL,
} from './support.js';
import type { Via } from './support.js';

const mounted: string[] = [];
afterAll(() => {
  // Each one tried; one that fails is unmounted by the run's teardown (test/support/leftovers.ts).
  for (const m of mounted.splice(0)) spawnSync('umount', [m]);
  removeTempFolders();
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** A 1 MiB tmpfs on `dir`, read-only or filled until about 8 KiB are left. */
function mountTmpfs(dir: string, kind: 'read-only' | 'full'): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=1m${kind === 'read-only' ? ',ro' : ''}`, 'tmpfs', dir]);
  mounted.push(dir);
  if (kind === 'full') writeFileSync(path.join(dir, 'filler'), Buffer.alloc(1024 * 1024 - 8 * 1024));
}

const COMMANDS: Readonly<Record<string, (file: string) => string[]>> = {
  'sync push': () => ['sync', 'push', '--force'],
  reset: () => ['reset', '--yes'],
  'restore --target cloud': (file) => ['restore', file, '--target', 'cloud', '--yes', '--legacy'],
  'migrate deploy cloud': () => ['migrate', 'deploy', 'cloud', '--yes'],
};

type Folder = 'missing and uncreatable' | 'read-only' | 'too small';

/** Prepares the folder condition in project `dir`; returns BACKUP_DIR. */
function backupFolder(dir: string, kind: Folder): string {
  if (kind === 'missing and uncreatable') {
    writeFileSync(path.join(dir, 'not-a-folder'), '');
    return path.join(dir, 'not-a-folder', 'backups');
  }
  const folder = path.join(dir, 'backups');
  mountTmpfs(folder, kind === 'read-only' ? 'read-only' : 'full');
  return folder;
}

async function refusedBeforeAnyChange(command: string, folder: Folder, via: Via): Promise<void> {
  const urls = await seededPair(USUAL);
  const before = await contentOfAll([urls.local, urls.cloud]);
  const dir = project(command.startsWith('migrate') ? PENDING_MIGRATION : {});
  const file = path.join(dir, 'restore-me.sql');
  writeFileSync(file, 'TRUNCATE TABLE public.tasks;\n');
  const env = envFor(dir, urls, { BACKUP_DIR: backupFolder(dir, folder) });
  const r = await runCli(COMMANDS[command]!(file), dir, env, via);
  expect(r.code, r.stderr).toBe(2);
  expectOneClearSentence(r.stderr);
  expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
}

describe('backup folders that cannot take the backup × every command that backs up', () => {
  it.concurrent.each(Object.keys(COMMANDS))('%s, backup folder missing and uncreatable', (command) =>
    refusedBeforeAnyChange(command, 'missing and uncreatable', command === 'reset' ? 'cli' : 'library'),
  );
  const mountedCases = (['read-only', 'too small'] as const).flatMap((folder) =>
    Object.keys(COMMANDS).map((command) => ({ command, folder })),
  );
  // Mounting a tmpfs needs root: without it these cases are skipped (and reported as skipped).
  it.skipIf(!isRoot).concurrent.each(mountedCases)(
    '$command, backup folder $folder (a real tmpfs)',
    ({ command, folder }) =>
      refusedBeforeAnyChange(
        command,
        folder,
        command === 'sync push' && folder === 'too small' ? 'cli' : 'library',
      ),
  );
});
