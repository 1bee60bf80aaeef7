import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { approved, noConfirmation } from '../src/confirm.js';
import { describe, expect, it } from 'vitest';
import { resetEnvironment } from '../src/dev/reset.js';
import { createTestUsers } from '../src/dev/test-users.js';
import { verifyParity } from '../src/dev/verify.js';
import { UsageError } from '../src/errors.js';
import { runCli } from './support/cli.js';
import { testConfig } from './support/config.js';
import { createDatabasePair, createTestDatabase } from './support/db.js';
import { authUsers, exec, insertCrmDataset, REAL_USER, tableChecksums } from './support/fixtures.js';
import { repoMigrationFiles, repoProjectWith } from './support/migration-project.js';

describe('dev:reset', () => {
  it('leaves both databases with exactly the fresh step-3 data, keeps the real cloud user, takes two backups', async () => {
    const { local, cloud } = await createDatabasePair();
    await insertCrmDataset(local, { tag: 'local-before', realUser: false });
    await insertCrmDataset(cloud, { tag: 'cloud-before' });
    const config = testConfig({ local, cloud });

    const result = await resetEnvironment(config, { confirm: approved });

    // The reference: a fresh dev:users:create on an empty CRM database.
    const fresh = await createTestDatabase();
    await createTestUsers(testConfig({ local: fresh }), { label: 'custom', url: fresh, source: 'argument' });
    const expected = await tableChecksums(fresh);
    expect(await tableChecksums(local)).toEqual(expected);
    expect(await tableChecksums(cloud)).toEqual(expected);

    expect((await authUsers(cloud, `id = '${REAL_USER.id}'`)).length).toBe(1);
    expect((await verifyParity(config)).equal).toBe(true);

    const resetDir = path.join(config.backupDir, 'reset');
    const files = readdirSync(resetDir).filter((f) => f.endsWith('.sql'));
    expect(files.length).toBe(2);
    for (const f of files) expect(statSync(path.join(resetDir, f)).mode & 0o077).toBe(0);
    expect(result.backups.map((b) => path.basename(b.file)).sort()).toEqual(files.sort());
    expect(result.sync?.verify.equal).toBe(true);
  });

  it('rebuilds CONCURRENTLY and VACUUM files inside its one transaction; history keeps the files as written', async () => {
    const local = await createTestDatabase();
    const index =
      'create index concurrently if not exists contacts_last_seen_idx on public.contacts (last_seen)';
    const p = repoProjectWith(
      { local },
      {
        '20990101000001_index.sql': `${index};\n`,
        '20990101000002_vacuum.sql': 'vacuum analyze public.contacts;\n',
      },
    );
    const result = await resetEnvironment(p.config, { confirm: approved, localOnly: true });
    expect(result.migrationsApplied).toBe(repoMigrationFiles().length + 2);
    const { rows } = await exec(
      local,
      `select (select indisvalid from pg_index where indexrelid = 'public.contacts_last_seen_idx'::regclass) as valid,
              (select statements from supabase_migrations.schema_migrations where version = '20990101000001') as statements`,
    );
    expect(rows[0]).toEqual({ valid: true, statements: [index] });
  });

  it('--local-only leaves the cloud untouched', async () => {
    const { local, cloud } = await createDatabasePair();
    await insertCrmDataset(cloud, { tag: 'cloud-before' });
    const before = await tableChecksums(cloud);
    const config = testConfig({ local, cloud });
    const result = await resetEnvironment(config, { confirm: approved, localOnly: true });
    expect(result.sync).toBeNull();
    expect(result.backups).toHaveLength(1);
    expect(await tableChecksums(cloud)).toEqual(before);
  });

  it('without confirmation nothing happens (library: UsageError; CLI without a TTY and without --yes: exit 2)', async () => {
    const { local, cloud } = await createDatabasePair();
    await insertCrmDataset(local, { tag: 'l', realUser: false });
    await insertCrmDataset(cloud, { tag: 'c' });
    const [lb, cb] = [await tableChecksums(local), await tableChecksums(cloud)];
    const config = testConfig({ local, cloud });
    await expect(resetEnvironment(config, { confirm: noConfirmation })).rejects.toBeInstanceOf(UsageError);

    const env = { LOCAL_DATABASE_URL: local, DATABASE_URL_PRODUCTION: cloud };
    const reset = runCli(['reset'], { cwd: config.projectDir, env });
    expect(reset.code).toBe(2);
    const restore = runCli(['restore', path.join(config.projectDir, 'none.sql'), '--target', 'cloud'], {
      cwd: config.projectDir,
      env,
    });
    expect(restore.code).toBe(2);
    for (const out of [reset, restore]) {
      expect(out.stdout + out.stderr).not.toContain(new URL(cloud).password);
    }
    expect(await tableChecksums(local)).toEqual(lb);
    expect(await tableChecksums(cloud)).toEqual(cb);
  });

  it("a cloud that cannot take local's rows stops the reset before local commits: exit 1, both unchanged, backups named", async () => {
    const { local, cloud } = await createDatabasePair();
    await insertCrmDataset(local, { tag: 'l', realUser: false });
    await insertCrmDataset(cloud, { tag: 'c' });
    const [localBefore, cloudBefore] = [await tableChecksums(local), await tableChecksums(cloud)];
    // Schema drift on the cloud: found inside the local transaction, which then rolls back.
    const { exec } = await import('./support/fixtures.js');
    await exec(cloud, 'alter table public.tasks alter column title type varchar(500)');
    const config = testConfig({ local, cloud });
    const err = await resetEnvironment(config, { confirm: approved }).catch((e: unknown) => e);
    expect((err as { exitCode: number }).exitCode).toBe(1);
    // Both backups were taken before the failure, and the error names each of them.
    const taken = readdirSync(path.join(config.backupDir, 'reset')).filter((f) => f.endsWith('.sql'));
    expect(taken.map((f) => f.split('_')[0]).sort()).toEqual(['cloud', 'local']);
    const details = (err as { details: string[] }).details.join('\n');
    for (const f of taken) expect(details).toContain(`backups/reset/${f}`);
    expect(await tableChecksums(local)).toEqual(localBefore);
    expect(await tableChecksums(cloud)).toEqual(cloudBefore);
  });
});
