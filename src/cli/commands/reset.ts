import { resetEnvironment } from '../../dev/reset.js';
import { formatSeconds, shownPath } from '../../format.js';
import { describeTarget } from '../../config.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { terminalConfirmer } from '../prompt.js';
import { withInterrupts } from '../interrupt.js';
import { describeNonTestData } from '../../dev/non-test-data.js';

export async function resetCommand(
  session: CliSession,
  opts: { yes?: boolean; localOnly?: boolean; deleteNonTestData?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
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
  const r = await withInterrupts(out, (signal) =>
    resetEnvironment(
      config,
      {
        confirm: terminalConfirmer({ yes: opts.yes, json: session.json }),
        localOnly: opts.localOnly ?? false,
        deleteNonTestData: opts.deleteNonTestData ?? false,
        signal,
      },
      out,
    ),
  );
  out.json({
    localOnly: r.sync === null,
    backups: r.backups.map((b) => ({ file: b.file, bytes: b.bytes })),
    migrationsApplied: r.migrationsApplied,
    users: r.users.users,
    sync: r.sync && {
      backupFile: r.sync.backupFile,
      totalRows: r.sync.totalRows,
      testUsers: r.sync.testUsers,
      verifyEqual: r.sync.verify.equal,
    },
    nonTestData: r.nonTestData,
    timings: r.timings,
  });
  out.line();
  out.line(`✅ Environment reset complete! (${formatSeconds(r.timings.totalMs)})`);
  out.line(r.sync ? '   Both local and cloud have fresh test data.' : '   Local has fresh test data.');
  for (const line of describeNonTestData(r.nonTestData)) out.line(`   Removed as asked: ${line}`);
  for (const b of r.backups) out.line(`   Backup: ${shownPath(config.projectDir, b.file)}`);
  if (r.sync)
    out.line(`   Cloud backup taken by the push: ${shownPath(config.projectDir, r.sync.backupFile)}`);
  return 0;
}
