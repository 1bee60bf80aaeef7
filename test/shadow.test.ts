/**
 * The CI rehearsal's shadow copy, as the workflow makes it: `migrate backup --schema-only` of a cloud
 * with data holds its schema and migration history but none of its rows; restored into another
 * database it gives the same tables and history, empty, on which `migrate deploy` finds nothing pending.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClient } from '../src/db/connect.js';
import { runCliAsync, tempProject } from './support/cli.js';
import { createDatabasePair } from './support/db.js';
import { insertCrmDataset, tableChecksums } from './support/fixtures.js';

const history = (url: string): Promise<string[]> =>
  withClient(url, async (c) =>
    (
      await c.query<{ version: string }>(
        'select version from supabase_migrations.schema_migrations order by version',
      )
    ).rows.map((r) => r.version),
  );

describe('schema-only shadow copy', () => {
  it('holds no row of public, restores schema and history, and leaves nothing pending', async () => {
    const { local: shadow, cloud: production } = await createDatabasePair('base');
    // "production": the CRM schema with data.
    const dir = tempProject();
    const env = { DATABASE_URL_PRODUCTION: production, LOCAL_DATABASE_URL: shadow };
    expect((await runCliAsync(['migrate', 'up', '--target', 'cloud'], { cwd: dir, env })).code).toBe(0);
    await insertCrmDataset(production, { tag: 'prod', segments: 2 });

    const copy = await runCliAsync(['migrate', 'backup', 'cloud', '--schema-only', '--json'], {
      cwd: dir,
      env,
    });
    expect(copy.code).toBe(0);
    const file = path.resolve(dir, (JSON.parse(copy.stdout) as { file: string }).file);
    const prodSums = await tableChecksums(production);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/^COPY public\./m);
    expect(text).toMatch(/^COPY supabase_migrations\.schema_migrations /m);
    expect(path.basename(file)).toMatch(/^cloud-schema_full_backup_/);

    const restore = await runCliAsync(['restore', file, '--target', 'local', '--yes'], { cwd: dir, env });
    expect(restore.code).toBe(0);
    expect(await history(shadow)).toEqual(await history(production));
    const shadowSums = await tableChecksums(shadow);
    expect(Object.keys(shadowSums).sort()).toEqual(Object.keys(prodSums).sort());
    expect(Object.values(shadowSums).every((t) => t.rows === 0)).toBe(true);
    expect(Object.values(prodSums).some((t) => t.rows > 0)).toBe(true);

    const deploy = await runCliAsync(['migrate', 'deploy', 'local', '--yes', '--json'], { cwd: dir, env });
    expect(JSON.parse(deploy.stdout)).toMatchObject({ ok: true, outcome: 'up-to-date' });
  });
});
