/**
 * `sync push` against two real servers: what a successful push leaves on the cloud (every table equal
 * to local, test users carried with their hashes, real users untouched, sequences moved), the backup
 * it writes (0600, restorable by stock psql to the exact previous state), the --force guard, and
 * values that must survive COPY between servers byte for byte.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { syncBackupPath } from '../src/dev/sync-backup.js';
import { syncPush } from '../src/dev/sync.js';
import { verifyParity } from '../src/dev/verify.js';
import { withClient } from '../src/db/connect.js';
import { ConfigError, CrmEnvError, UsageError } from '../src/errors.js';
import { testConfig } from './support/config.js';
import { createDatabasePair } from './support/db.js';
import {
  CRM_TABLES,
  REAL_USER,
  TEST_USERS,
  authUsers,
  databaseState,
  exec,
  identitiesOf,
  insertAuthUser,
  insertCrmDataset,
  passwordHash,
  tableChecksums,
} from './support/fixtures.js';
import { psqlFile } from './support/psql.js';

const TEST_USER_FILTER = `email like '%@test.local'`;
const STALE_USER = {
  id: 'a0000000-0000-4000-8000-0000000000aa',
  email: 'stale@test.local',
  role: 'account_manager',
} as const;
const CLOUD_ONLY_USER = { id: 'c0000000-0000-4000-8000-000000000001', email: 'other@example.com' };

/** Local with the dataset (and a real user who owns data); a cloud with different data and users. */
async function preparePair(): Promise<{ local: string; cloud: string }> {
  const pair = await createDatabasePair('crm');
  await Promise.all([
    insertCrmDataset(pair.local, { tag: 'local', realUserSales: true, segments: 5 }),
    (async () => {
      // Same test-user ids with other password hashes, plus a test user local does not have.
      await insertCrmDataset(pair.cloud, {
        tag: 'cloud',
        testUsers: [...TEST_USERS, STALE_USER],
        segments: 2,
      });
      await withClient(pair.cloud, (c) =>
        insertAuthUser(c, CLOUD_ONLY_USER, passwordHash('cloud', CLOUD_ONLY_USER.email)),
      );
    })(),
  ]);
  return pair;
}

describe('sync push', () => {
  it('makes the cloud equal to local, keeps real users, moves sequences, and writes a 0600 backup that psql restores exactly', async () => {
    const { local, cloud } = await preparePair();
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const result = await syncPush(config, { force: true });

    expect(result.verify.equal).toBe(true);
    expect(result.tables.map((t) => t.table).sort()).toEqual([...CRM_TABLES].sort());
    expect(result.testUsers).toBe(TEST_USERS.length);

    // An independent verify (new sessions, after the commit) agrees, table by table.
    const report = await verifyParity(config);
    expect(report.equal).toBe(true);
    expect(report.tables.every((t) => t.equal)).toBe(true);
    const [localSums, cloudSums] = await Promise.all([tableChecksums(local), tableChecksums(cloud)]);
    expect(Object.keys(localSums).sort()).toEqual([...CRM_TABLES].sort());
    expect(cloudSums).toEqual(localSums);
    expect(cloudSums.contacts!.rows).toBeGreaterThan(0);
    expect(cloudSums).not.toEqual(before.public);

    // Test users: exactly local's, same ids and password hashes; the cloud-only test user is gone.
    const [localTest, cloudTest] = await Promise.all([
      authUsers(local, TEST_USER_FILTER),
      authUsers(cloud, TEST_USER_FILTER),
    ]);
    expect(cloudTest).toEqual(localTest);
    expect(cloudTest.map((u) => u.email)).toEqual([
      'admin@test.local',
      'director@test.local',
      'manager@test.local',
    ]);
    expect(cloudTest[0]!.encrypted_password).toBe(passwordHash('local', 'admin@test.local'));
    const ids = TEST_USERS.map((u) => u.id);
    expect(await identitiesOf(cloud, ids)).toEqual(await identitiesOf(local, ids));
    expect(await identitiesOf(cloud, [STALE_USER.id])).toEqual([]);

    // Real users: the cloud's are untouched, hash and identity included (not replaced by local's).
    const cloudReal = await authUsers(cloud, `email in ('real@example.com', 'other@example.com')`);
    expect(cloudReal).toEqual([
      {
        id: CLOUD_ONLY_USER.id,
        email: CLOUD_ONLY_USER.email,
        encrypted_password: passwordHash('cloud', CLOUD_ONLY_USER.email),
      },
      {
        id: REAL_USER.id,
        email: REAL_USER.email,
        encrypted_password: passwordHash('cloud', REAL_USER.email),
      },
    ]);
    expect(await identitiesOf(cloud, [REAL_USER.id, CLOUD_ONLY_USER.id])).toHaveLength(2);

    // Sequences moved: new rows with default identities do not collide with the pushed ids
    // (segments used their identity locally; tags were inserted with explicit ids only).
    await withClient(cloud, async (c) => {
      const seg = await c.query<{ id: string }>(
        `insert into public.segments (name) values ('made on cloud') returning id::text`,
      );
      expect(Number(seg.rows[0]!.id)).toBe(6);
      const tag = await c.query<{ id: string }>(
        `insert into public.tags (name) values ('made on cloud') returning id::text`,
      );
      expect(Number(tag.rows[0]!.id)).toBeGreaterThan(3);
    });

    // The backup: where the summary says, owner-only, no password inside, restorable by stock psql.
    const file = result.backupFile;
    expect(path.dirname(file)).toBe(path.join(config.backupDir, 'sync'));
    expect(path.basename(file)).toMatch(/^cloud_sync_backup_\d{8}_\d{6}(_\d+)?\.sql$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    const password = decodeURIComponent(new URL(cloud).password);
    expect(text).not.toContain(password);
    expect(text).toContain('COPY "public"."contacts"');
    expect(readdirSync(path.dirname(file)).filter((f) => f.endsWith('.partial'))).toEqual([]);

    psqlFile(cloud, file);
    expect(await databaseState(cloud)).toEqual(before);
  });

  it('refuses without --force (exit code 2) and changes nothing', async () => {
    const { local, cloud } = await preparePair();
    const before = await databaseState(cloud);
    const config = testConfig({ local, cloud });

    const err = await syncPush(config, { force: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmEnvError);
    expect(err instanceof ConfigError || err instanceof UsageError).toBe(true);
    expect((err as CrmEnvError).exitCode).toBe(2);
    expect([(err as Error).message, ...(err as CrmEnvError).details].join('\n')).not.toContain(
      new URL(cloud).password,
    );

    expect(await databaseState(cloud)).toEqual(before);
    expect(existsSync(config.backupDir)).toBe(false);
    // The confirmation was all that was missing.
    expect((await syncPush(config, { force: true })).verify.equal).toBe(true);
  });

  it('carries every kind of value exactly: control characters, NULL vs empty, unicode, jsonb, arrays, numeric, timestamptz, bytea, generated columns', async () => {
    const { local, cloud } = await createDatabasePair('crm');
    const ddl = `create table public.zz_values (
      id integer primary key,
      t text,
      j jsonb,
      ta text[],
      ia integer[],
      n numeric,
      ts timestamptz,
      b bytea,
      t_len integer generated always as (length(t)) stored
    )`;
    await Promise.all([exec(local, ddl), exec(cloud, ddl)]);
    await Promise.all([insertCrmDataset(local, { tag: 'local' }), insertCrmDataset(cloud, { tag: 'cloud' })]);
    await exec(
      cloud,
      `insert into public.zz_values (id, t) values (1, 'old cloud row'), (99, 'only on cloud')`,
    );

    const rows: unknown[][] = [
      [
        1,
        `tab\there\nnewline\r\ncrlf back\\slash \\N \\. 'single' "double" ,;|`,
        `{"nested": {"arr": [1, 2.50, {"k": null}], "s": "line\\nbreak \\"q\\" \\\\ back\\ttab"}, "esc": "\\u00e9\\ud83d\\ude00", "empty": ""}`,
        ['a', null, 'with "quote"', 'comma,brace{}', '', 'NULL', 'back\\slash', '\\.'],
        [1, null, -3, 2147483647],
        '12345678901234567890.123456789012345678901234567890',
        '2024-03-10 02:30:00.123456-05:30',
        Buffer.from([0x00, 0x01, 0x02, 0x00, 0xff, 0x5c, 0x0a, 0x2e]),
      ],
      [2, '', 'null', [], [], '-0.000000000000000000001', '1999-12-31 23:59:59.999999+14', Buffer.alloc(0)],
      [3, null, null, null, null, null, null, null],
      [
        4,
        'e\u0301 combining, 👩‍👩‍👧 family, 日本語, zero\u200bwidth, rtl\u202eoverride',
        '{"emoji": "😀", "ünï": ["ç", "\\u2603"], "deep": {"a": {"b": {"c": [true, false, null]}}}}',
        ['😀', 'e\u0301', '\t', '\n'],
        [null],
        'NaN',
        'infinity',
        Buffer.from('\\x00 not hex\n', 'utf8'),
      ],
      [5, '\\.', '[]', ['\\N', 'null', 'NULL'], [0], '0.10', '2024-01-01 00:00:00+00', Buffer.from([0])],
      [6, '\\N', '{}', [' leading', 'trailing '], [-1], '1e-30', '-infinity', null],
    ];
    await withClient(local, async (c) => {
      for (const r of rows) {
        await c.query(
          `insert into public.zz_values (id, t, j, ta, ia, n, ts, b) values ($1, $2, $3::jsonb, $4::text[], $5::int[], $6::numeric, $7::timestamptz, $8)`,
          r,
        );
      }
    });

    const config = testConfig({ local, cloud });
    const result = await syncPush(config, { force: true });
    expect(result.verify.equal).toBe(true);
    expect(result.tables.find((t) => t.table === 'zz_values')?.rows).toBe(rows.length);

    const read = async (url: string): Promise<{ parsed: unknown[]; text: string[] }> =>
      withClient(url, async (c: pg.Client) => {
        // A session time zone far from UTC, so any instant shift would show in the text.
        await c.query(`set timezone = 'Asia/Kathmandu'`);
        const parsed = (await c.query('select * from public.zz_values order by id')).rows;
        const text = (
          await c.query<{ r: string }>('select z::text as r from public.zz_values z order by id')
        ).rows.map((x) => x.r);
        return { parsed, text };
      });
    const [l, c] = await Promise.all([read(local), read(cloud)]);
    expect(c.parsed).toHaveLength(rows.length);
    expect(c.parsed).toEqual(l.parsed);
    for (let i = 0; i < l.text.length; i++) expect(c.text[i]).toBe(l.text[i]);
    expect((c.parsed[0] as { b: Buffer }).b.equals(rows[0]![7] as Buffer)).toBe(true);
    expect((c.parsed[0] as { t_len: number }).t_len).toBe((rows[0]![1] as string).length);
    expect((c.parsed[1] as { t: string | null }).t).toBe('');
    expect((c.parsed[2] as { t: string | null }).t).toBeNull();
    expect((c.parsed[1] as { j: unknown }).j).toBeNull(); // jsonb 'null' …
    expect(c.text[1]).not.toBe(c.text[2]); // … is not SQL NULL, and '' is not NULL.

    const [ls, cs] = await Promise.all([tableChecksums(local), tableChecksums(cloud)]);
    expect(cs.zz_values).toEqual(ls.zz_values);
    expect(cs).toEqual(ls);
  });

  it('accepts a cloud-only nullable or defaulted column (preflight allows it) and leaves it to its default', async () => {
    const { local, cloud } = await createDatabasePair('crm');
    await Promise.all([insertCrmDataset(local, { tag: 'local' }), insertCrmDataset(cloud, { tag: 'cloud' })]);
    await exec(
      cloud,
      `alter table public.tags add column note text, add column weight integer not null default 7`,
    );
    const config = testConfig({ local, cloud });

    const result = await syncPush(config, { force: true });
    expect(result.verify.tablesEqual).toBe(true);
    await withClient(cloud, async (c) => {
      const { rows } = await c.query(`select note, weight from public.tags order by id`);
      expect(rows).toEqual([
        { note: null, weight: 7 },
        { note: null, weight: 7 },
        { note: null, weight: 7 },
      ]);
    });
    const [ls, cs] = await Promise.all([tableChecksums(local), tableChecksums(cloud)]);
    for (const t of CRM_TABLES.filter((n) => n !== 'tags')) expect(cs[t], t).toEqual(ls[t]);
  });

  it('never replaces an existing backup file, even within the same second', async () => {
    const { local, cloud } = await preparePair();
    const config = testConfig({ local, cloud });
    // The clock stands still during the push (only Date is faked), so the push's backup falls in the
    // very second of the backups already there: the first name and the next suffix are taken.
    const now = new Date();
    mkdirSync(path.join(config.backupDir, 'sync'), { recursive: true });
    const first = syncBackupPath(config.backupDir, now);
    const taken = [first, first.replace(/\.sql$/, '_1.sql')];
    for (const f of taken) writeFileSync(f, `earlier backup ${f}\n`);

    vi.useFakeTimers({ toFake: ['Date'], now });
    let result: Awaited<ReturnType<typeof syncPush>>;
    try {
      result = await syncPush(config, { force: true });
    } finally {
      vi.useRealTimers();
    }
    for (const f of taken) expect(readFileSync(f, 'utf8')).toBe(`earlier backup ${f}\n`);
    expect(result.backupFile).toBe(first.replace(/\.sql$/, '_2.sql'));
    expect(readFileSync(result.backupFile, 'utf8')).toContain('COPY "public"."contacts"');
  });
});
