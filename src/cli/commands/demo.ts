import { runDemo } from '../../dev/demo.js';
import { shownPath } from '../../format.js';
import { redactUrl } from '../../redact.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { printVerifyReport } from './sync.js';
import { printCredentials } from './users.js';

export async function demoCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session);
  out.line('🎬 crm-env demo: the whole workflow on the embedded stack (no Docker, no cloud account needed)');
  const r = await runDemo(config, out);
  out.line();
  printVerifyReport(out, r.sync.verify);
  out.line();
  printCredentials(out, r.users.users);
  out.line();
  out.line('⏱️  Steps:');
  for (const s of r.steps)
    out.line(`   ${(s.ms / 1000).toFixed(2).padStart(6)} s  ${s.name.replace(/^\S+\s+/, '')}`);
  out.line(`   ${(r.steps.reduce((a, s) => a + s.ms, 0) / 1000).toFixed(2).padStart(6)} s  total`);
  out.line();
  out.line('🔗 Connect:');
  out.line(`   Local DB:         ${redactUrl(r.config.local.url)}`);
  out.line(`   Sandbox cloud DB: ${redactUrl(r.config.cloud!.url)}`);
  out.line(
    `   psql: PGPASSFILE="${r.stack.passFile}" psql "postgresql://postgres@127.0.0.1:${new URL(r.config.local.url).port}/postgres"`,
  );
  out.line(`   Backup of the cloud before the push: ${shownPath(config.projectDir, r.sync.backupFile)}`);
  out.line();
  const ok = r.sync.verify.equal && r.cloudUsers.ok;
  out.line(
    ok
      ? '✅ Demo complete. The stack keeps running; `npm run stack:down` stops it.'
      : '❌ Demo finished with differences (see above).',
  );
  return ok ? 0 : 1;
}
