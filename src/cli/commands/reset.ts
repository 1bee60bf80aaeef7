import { resetEnvironment } from '../../dev/reset.js';
import { describeNonTestData } from '../../dev/non-test-data.js';
import { shownPath } from '../../format.js';
import { describeTarget } from '../../config.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { printFailureJson, withInterrupts } from '../interrupt.js';
import { terminalConfirmer } from '../prompt.js';

export async function resetCommand(
  session: CliSession,
  opts: { yes?: boolean; localOnly?: boolean; deleteNonTestData?: boolean; json?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session, { json: opts.json });
  out.line('⚠️  ENVIRONMENT RESET');
  out.line(
    opts.localOnly
      ? '   This will DELETE all data in the local database and recreate the test data.'
      : '   This will DELETE all data in both local and cloud databases and recreate the test data.',
  );
  out.line(
    '   Schema structure will be preserved (local is rebuilt from supabase/migrations). Backups are taken first.',
  );
  out.line(`   Local: ${describeTarget(config.local)}`);
  if (!opts.localOnly && config.cloud) out.line(`   Cloud: ${describeTarget(config.cloud)}`);
  out.line();
  let r: Awaited<ReturnType<typeof resetEnvironment>>;
  try {
    r = await withInterrupts(out, (signal) =>
      resetEnvironment(
        config,
        {
          confirm: terminalConfirmer({ yes: opts.yes, json: opts.json }),
          localOnly: opts.localOnly ?? false,
          deleteNonTestData: opts.deleteNonTestData ?? false,
          signal,
        },
        out,
      ),
    );
  } catch (err) {
    printFailureJson(out, err, config.secrets);
    throw err;
  }
  out.json({
    ok: true,
    backups: r.backups.map((b) => shownPath(config.projectDir, b.file)),
    cloudBackup: r.sync ? shownPath(config.projectDir, r.sync.backupFile) : null,
    migrationsApplied: r.migrationsApplied,
    users: r.users.users,
    nonTestData: r.nonTestData,
    timings: r.timings,
  });
  out.line();
  out.line(`✅ Environment reset complete! (${(r.timings.totalMs / 1000).toFixed(2)} s)`);
  out.line(r.sync ? '   Both local and cloud have fresh test data.' : '   Local has fresh test data.');
  for (const line of describeNonTestData(r.nonTestData)) out.line(`   Removed as asked: ${line}`);
  for (const b of r.backups) out.line(`   Backup: ${shownPath(config.projectDir, b.file)}`);
  if (r.sync)
    out.line(`   Cloud backup taken by the push: ${shownPath(config.projectDir, r.sync.backupFile)}`);
  return 0;
}
