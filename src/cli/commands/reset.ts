import { UsageError } from '../../errors.js';
import { resetEnvironment } from '../../dev/reset.js';
import { displayPath } from '../../dev/sync.js';
import { describeTarget } from '../../config.js';
import { commandContext } from '../context.js';
import { askToType } from '../prompt.js';

export async function resetCommand(opts: { yes?: boolean; localOnly?: boolean }): Promise<number> {
  const { config, out } = commandContext();
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
  let confirmed = opts.yes ?? false;
  if (!confirmed) {
    if (!process.stdin.isTTY) {
      throw new UsageError(
        'Reset needs confirmation: there is no terminal to type RESET, so pass --yes. Nothing was changed.',
      );
    }
    confirmed = await askToType('RESET');
    if (!confirmed) {
      out.line('❌ Cancelled. Nothing was changed.');
      return 2;
    }
  }
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await resetEnvironment(
      config,
      { confirmed, localOnly: opts.localOnly ?? false, signal: controller.signal },
      out,
    );
    out.line();
    out.line(`✅ Environment reset complete! (${(r.timings.totalMs / 1000).toFixed(2)} s)`);
    out.line(r.sync ? '   Both local and cloud have fresh test data.' : '   Local has fresh test data.');
    for (const b of r.backups) out.line(`   Backup: ${displayPath(config, b.file)}`);
    if (r.sync) out.line(`   Cloud backup taken by the push: ${displayPath(config, r.sync.backupFile)}`);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
