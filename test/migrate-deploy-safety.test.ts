/**
 * Deploys that cannot commit a disaster: data-losing migrations are refused by validate and deploy alike
 * (one static-check path), a suppressed one shows in the dry run how many rows it removes, the
 * post-migration checks run before COMMIT (a failure rolls back), and the way back printed after a commit
 * is run exactly as printed and restores the content.
 */
import { rejectionOf } from './support/errors.js';
import { describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../src/config.js';
import type { Confirmer } from '../src/confirm.js';
import { approved } from '../src/confirm.js';
import { withClient } from '../src/db/connect.js';
import { DeployError, deployMigrations } from '../src/migration/deploy.js';
import type { TableChecksum } from '../src/db/checksum.js';
import { validateExitCode, validateMigrations } from '../src/migration/validate.js';
import { runCli } from './support/cli.js';
import { createTestDatabase } from './support/db.js';
import { CRM_TABLES, exec, insertCrmDataset, tableChecksums } from './support/fixtures.js';
import { repoProjectWith } from './support/migration-project.js';

const TRUNCATE = '20990101000001_truncate_tasks.sql';
const DELETE = '20990101000002_delete_contacts.sql';
const DROP = '20990101000003_drop_schema.sql';
const SQL = {
  [TRUNCATE]: 'truncate public.tasks;\n',
  [DELETE]: 'delete from public.contacts;\n',
  [DROP]: 'drop schema public cascade;\n',
};
const suppress = (rules: string, sql: string): string =>
  `-- crm-env-lint-disable-next-statement ${rules}: approved in review\n${sql}`;
const SUPPRESSED = {
  [TRUNCATE]: suppress('ban-truncate', SQL[TRUNCATE]),
  [DELETE]: suppress('ban-delete-without-where', SQL[DELETE]),
  [DROP]: suppress('ban-drop-schema, ban-drop-cascade', SQL[DROP]),
};

/** A CRM database with a few rows in every table. */
async function crmWithData(server: 'local' | 'cloud' = 'local'): Promise<string> {
  const url = await createTestDatabase({ server, template: 'crm' });
  await insertCrmDataset(url, { tag: 'before' });
  return url;
}

/** What "unchanged" compares: every public table's checksum and the history versions. */
async function snapshot(url: string): Promise<{ tables: Record<string, TableChecksum>; history: string[] }> {
  const history = await withClient(url, async (c) =>
    (
      await c.query<{ v: string }>(
        'select version as v from supabase_migrations.schema_migrations order by 1',
      )
    ).rows.map((r) => r.v),
  );
  return { tables: await tableChecksums(url), history };
}

const target = (label: 'local' | 'cloud', url: string): DatabaseTarget => ({
  label,
  url,
  source: 'environment',
});

const rejection = (p: Promise<unknown>): Promise<DeployError> => rejectionOf(p, DeployError);

describe.concurrent('deploys that cannot commit a disaster', () => {
  it('refuses DROP SCHEMA, DELETE without WHERE and TRUNCATE in validate and deploy alike; nothing changes', async () => {
    const url = await crmWithData();
    const p = repoProjectWith({ local: url }, SQL);
    const before = await snapshot(url);

    const report = await validateMigrations(p.config, { target: target('local', url), rehearsal: false });
    const rules = (name: string): string[] =>
      report.files.find((f) => f.fileName === name)!.findings.map((f) => f.rule);
    expect(rules(TRUNCATE)).toEqual(['ban-truncate']);
    expect(rules(DELETE)).toEqual(['ban-delete-without-where']);
    expect(rules(DROP)).toEqual(['ban-drop-schema', 'ban-drop-cascade']);
    expect(validateExitCode(report)).toBe(1);

    const err = await rejection(deployMigrations(p.config, target('local', url), { confirm: approved }));
    expect(err.exitCode).toBe(1);
    const refused = err.report.findings
      .filter((f) => f.severity === 'error')
      .map((f) => `${f.file}:${f.rule}`);
    const validated = report.files.flatMap((f) =>
      f.findings.filter((x) => x.severity === 'error').map((x) => `${f.fileName}:${x.rule}`),
    );
    expect(refused).toEqual(validated);
    expect([err.report.backup, err.report.dryRunFiles]).toEqual([null, []]);
    expect(await snapshot(url)).toEqual(before);
  });

  it('when suppressed, the dry run reports the rows each statement removes; the failing post-checks roll it back', async () => {
    const url = await crmWithData();
    const p = repoProjectWith({ local: url }, SUPPRESSED);
    const before = await snapshot(url);
    const rows = before.tables;

    const err = await rejection(deployMigrations(p.config, target('local', url), { dryRun: true }));
    expect(err.exitCode).toBe(1);
    const effects = Object.fromEntries(err.report.dryRunFiles.map((f) => [f.fileName, f.effects]));
    expect(effects[TRUNCATE]).toEqual([
      { line: 2, command: 'TRUNCATE', removed: [{ table: 'public.tasks', rows: rows['tasks']!.rows }] },
    ]);
    expect(effects[DELETE]).toEqual([
      { line: 2, command: `DELETE ${rows['contacts']!.rows}`, rows: rows['contacts']!.rows },
    ]);
    const dropped = effects[DROP]![0]!;
    expect(dropped.command).toBe('DROP SCHEMA');
    expect(dropped.removed!.map((r) => r.table)).toEqual(CRM_TABLES.map((t) => `public.${t}`).sort());
    expect(dropped.removed!.find((r) => r.table === 'public.organizations')?.rows).toBe(
      rows['organizations']!.rows,
    );
    expect(err.report.postChecks?.checks.find((c) => c.name === 'expected-tables')?.ok).toBe(false);
    expect(await snapshot(url)).toEqual(before);
  });

  it('runs the post-checks before COMMIT: a check failing in the real apply rolls everything back', async () => {
    const url = await crmWithData('cloud');
    const p = repoProjectWith(
      { local: url.replace(/\/[^/]+$/, '/postgres'), cloud: url },
      { [TRUNCATE]: SUPPRESSED[TRUNCATE], [DELETE]: SUPPRESSED[DELETE] },
    );
    // Between the dry run and the apply (while the deployer is asked), someone turns RLS off on a table.
    const confirm: Confirmer = {
      canConfirm: true,
      ask: async () => {
        await exec(url, 'alter table public.tags disable row level security');
        return true;
      },
    };
    const before = await snapshot(url);
    const err = await rejection(deployMigrations(p.config, target('cloud', url), { confirm }));
    expect(err.exitCode).toBe(1);
    expect(err.report.dryRunFiles.map((f) => f.status)).toEqual(['ok', 'ok']);
    expect(err.report.files.map((f) => f.status)).toEqual(['rolled-back', 'rolled-back']);
    expect(err.report.postChecks?.checks.find((c) => c.name === 'rls-enabled')?.ok).toBe(false);
    expect(err.report.backup).not.toBeNull();
    expect(err.report.restoreCommand).toBeUndefined(); // nothing was committed: no way back needed
    expect(await snapshot(url)).toEqual(before);
  });

  it('after a failed outside-transaction file, the printed way back, run as printed, restores the content', async () => {
    const url = await crmWithData();
    const p = repoProjectWith(
      { local: url },
      {
        '20990101000001_add_extra.sql': 'alter table public.tasks add column extra int not null default 7;\n',
        // Every row has extra = 7: the unique build fails after the transaction was committed.
        '20990101000002_extra_key.sql':
          'create unique index concurrently if not exists tasks_extra_key on public.tasks (extra);\n',
      },
    );
    const before = await snapshot(url);
    const env = { LOCAL_DATABASE_URL: url };

    const deploy = runCli(['migrate', 'deploy', 'local', '--yes'], { cwd: p.dir, env });
    expect(deploy.code).toBe(1);
    const printed = /To go back to the state before the deploy: npx crm-env (.+?)\s*$/m.exec(
      deploy.stdout + deploy.stderr,
    );
    expect(printed).not.toBeNull();
    expect((await snapshot(url)).history).toContain('20990101000001'); // committed: the way back is needed

    const restore = runCli(printed![1]!.split(' '), { cwd: p.dir, env });
    expect(restore.code, restore.stderr).toBe(0);
    expect(await snapshot(url)).toEqual(before);
    const left = await exec(
      url,
      `select (select count(*)::int from pg_attribute where attrelid = 'public.tasks'::regclass and attname = 'extra') as columns,
              (select count(*)::int from pg_class where relname = 'tasks_extra_key') as indexes`,
    );
    expect(left.rows[0]).toEqual({ columns: 0, indexes: 0 });
  });
});
