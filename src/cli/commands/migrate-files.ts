/**
 * `crm-env migrate status` and `crm-env migrate new <name>`.
 */
import { createMigrationFile } from '../../migration/new-file.js';
import type { MigrationState, MigrationStatusReport } from '../../migration/status.js';
import { migrationStatus } from '../../migration/status.js';
import { shownPath } from '../../format.js';
import type { Output } from '../output.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';

const SHOWN: Readonly<Record<MigrationState, string>> = {
  applied: '✓ applied',
  pending: '… pending',
  edited: '✗ edited after apply',
  'missing-file': '✗ no local file',
};

function printStatus(out: Output, r: MigrationStatusReport): void {
  const labels = r.databases.map((d) => d.target);
  const width = Math.max(
    20,
    ...r.migrations.map((m) => (m.fileName ?? `${m.version}_${m.name ?? ''}`).length),
  );
  out.line(`${'Migration'.padEnd(width)}  ${labels.map((l) => l.padEnd(22)).join('')}`.trimEnd());
  for (const m of r.migrations) {
    const states = labels.map((l) => (m.states[l] ? SHOWN[m.states[l]] : '-').padEnd(22)).join('');
    out.line(`${(m.fileName ?? `${m.version}_${m.name ?? ''}`).padEnd(width)}  ${states}`.trimEnd());
  }
  out.line();
  for (const d of r.databases) {
    const c = d.counts;
    out.line(
      `${d.upToDate ? '✅' : '❌'} ${d.target} (${d.url}): ${c.applied} applied, ${c.pending} pending, ${c.edited} edited after apply, ${c['missing-file']} without a local file`,
    );
  }
}

/**
 * Local and cloud (when one is configured) side by side. Exit 0 when every database is up to date,
 * 1 when something is pending, edited after apply or missing locally (as graphile-migrate's status).
 */
export async function migrateStatusCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session);
  const targets = config.cloud ? [config.local, config.cloud] : [config.local];
  const report = await migrationStatus(config.migrationsDir, targets);
  out.json({ ...report });
  printStatus(out, report);
  if (!config.cloud) out.line('   (no cloud configured: local only)');
  return report.upToDate ? 0 : 1;
}

/** `crm-env migrate new <name>`: supabase/migrations/<UTC timestamp>_<name>.sql, empty. */
export async function migrateNewCommand(session: CliSession, opts: { name: string }): Promise<number> {
  const { config, out } = commandContext(session);
  const r = await createMigrationFile(config.migrationsDir, opts.name);
  out.json({ ...r });
  out.line(`✅ Created ${shownPath(config.projectDir, r.file)}`);
  out.info('Write the SQL, then `npm run migrate:up` (local) and `npm run migrate:validate`.');
  return 0;
}
