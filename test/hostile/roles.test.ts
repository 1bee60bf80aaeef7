/**
 * Hostile class: a role without the privileges a command needs, on either side, for every command that
 * writes. Roles are made on the test servers (unique names): without BYPASSRLS, without ownership of the
 * public objects, without TRUNCATE, without write access to auth. Every command refuses in its
 * preflight: exit 2, one sentence, both databases byte-identical, no backup written.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ALL_TABLE_GRANTS,
  contentOfAll,
  createRole,
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

afterAll(removeTempFolders);

const NO_TRUNCATE = [
  'grant usage on schema public, auth to $ROLE',
  'grant select, insert, update, delete on all tables in schema public to $ROLE',
  'grant all on all tables in schema auth to $ROLE',
];
const NO_AUTH_WRITE = [
  'grant usage on schema public, auth to $ROLE',
  'grant all on all tables in schema public to $ROLE',
  'grant select on all tables in schema auth to $ROLE',
];

interface RoleCase {
  readonly name: string;
  /** Which side connects as the weak role. */
  readonly side: 'local' | 'cloud';
  readonly attributes: string;
  readonly grants: readonly string[];
  readonly args: (file: string) => string[];
  /** The first lines of the backup file a restore case restores. */
  readonly file?: string;
  readonly migrations?: Readonly<Record<string, string>>;
  /** Through the CLI process (a few per class) or in-process (the same library calls). */
  readonly via?: Via;
}

const FULL_BACKUP = 'DROP TABLE IF EXISTS public.tasks CASCADE;\nCREATE TABLE public.tasks (id int);\n';
const DATA_BACKUP = 'TRUNCATE TABLE public.tasks;\nCOPY public.tasks (id) FROM stdin;\n\\.\n';

const CASES: readonly RoleCase[] = [
  {
    name: 'sync push, local role without BYPASSRLS',
    side: 'local',
    attributes: 'nobypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['sync', 'push', '--force'],
  },
  {
    name: 'sync push, cloud role without BYPASSRLS',
    via: 'cli',
    side: 'cloud',
    attributes: 'nobypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['sync', 'push', '--force'],
  },
  {
    name: 'sync push, cloud role without TRUNCATE',
    side: 'cloud',
    attributes: 'bypassrls',
    grants: NO_TRUNCATE,
    args: () => ['sync', 'push', '--force'],
  },
  {
    name: 'sync push, cloud role that may only read auth',
    side: 'cloud',
    attributes: 'bypassrls',
    grants: NO_AUTH_WRITE,
    args: () => ['sync', 'push', '--force'],
  },
  {
    name: 'reset, local role that does not own the schema',
    side: 'local',
    attributes: 'bypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['reset', '--yes'],
  },
  {
    name: 'reset, cloud role without BYPASSRLS',
    side: 'cloud',
    attributes: 'nobypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['reset', '--yes'],
  },
  {
    name: 'users create --target cloud, role without BYPASSRLS',
    side: 'cloud',
    attributes: 'nobypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['users', 'create', '--target', 'cloud'],
  },
  {
    name: 'users create, local role that may only read auth',
    side: 'local',
    attributes: 'bypassrls',
    grants: NO_AUTH_WRITE,
    args: () => ['users', 'create'],
  },
  {
    name: 'restore of a full backup, cloud role that does not own the schema',
    side: 'cloud',
    attributes: 'bypassrls',
    grants: ALL_TABLE_GRANTS,
    args: (f) => ['restore', f, '--target', 'cloud', '--yes', '--legacy'],
    file: FULL_BACKUP,
  },
  {
    name: 'restore of a data backup, cloud role without TRUNCATE',
    side: 'cloud',
    attributes: 'bypassrls',
    grants: NO_TRUNCATE,
    args: (f) => ['restore', f, '--target', 'cloud', '--yes', '--legacy'],
    file: DATA_BACKUP,
  },
  {
    name: 'migrate deploy cloud, role that does not own the schema',
    side: 'cloud',
    attributes: 'bypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['migrate', 'deploy', 'cloud', '--yes'],
    migrations: PENDING_MIGRATION,
  },
  {
    name: 'migrate up, local role that does not own the schema',
    via: 'cli',
    side: 'local',
    attributes: 'bypassrls',
    grants: ALL_TABLE_GRANTS,
    args: () => ['migrate', 'up'],
    migrations: PENDING_MIGRATION,
  },
];

describe('a role without the privileges a command needs × every command that writes', () => {
  it.concurrent.each(CASES)('$name', async (c) => {
    const urls = await seededPair({ ...USUAL, cloud: { tag: 'cloud', realUserSales: true } });
    const weak = await createRole(urls[c.side], c.attributes, c.grants);
    const before = await contentOfAll([urls.local, urls.cloud]);
    const dir = project(c.migrations);
    const file = path.join(dir, 'backup.sql');
    writeFileSync(file, c.file ?? FULL_BACKUP);
    const r = await runCli(c.args(file), dir, envFor(dir, { ...urls, [c.side]: weak }), c.via ?? 'library');
    expect(r.code, r.stderr).toBe(2);
    expectOneClearSentence(r.stderr);
    expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
    expect(existsSync(path.join(dir, 'backups'))).toBe(false);
  });

  it.concurrent('reset with a wrong cloud password: refused before local is touched', async () => {
    const urls = await seededPair(USUAL);
    const before = await contentOfAll([urls.local, urls.cloud]);
    const wrong = new URL(urls.cloud);
    wrong.password = 'not-the-password';
    const dir = project();
    const r = await runCli(
      ['reset', '--yes'],
      dir,
      envFor(dir, { local: urls.local, cloud: wrong.toString() }),
    );
    expect(r.code).toBe(2);
    expectOneClearSentence(r.stderr);
    expect(r.stderr).not.toContain('not-the-password');
    expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
  });
});
