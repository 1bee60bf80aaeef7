import { runDemo } from '../../dev/demo.js';
import { formatSeconds, shownPath } from '../../format.js';
import { redactUrl } from '../../redact.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { printVerifyReport } from './sync.js';
import { printCredentials, shownTestPassword } from './users.js';

export async function demoCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session, { stackUrls: false });
  out.line('🎬 crm-env demo: the whole workflow on the embedded stack (no Docker, no cloud account needed)');
  const r = await runDemo(config, out);
  const ok = r.sync.verify.equal && r.cloudUsers.ok;
  const password = shownTestPassword(config);
  out.json({
    local: redactUrl(r.config.local.url),
    cloud: redactUrl(r.config.cloud!.url),
    passFile: r.stack.passFile,
    users: r.users.users.map((u) => ({ email: u.email, role: u.role })),
    testPassword: password,
    backupFile: r.sync.backupFile,
    verifyEqual: r.sync.verify.equal,
    cloudUsersOk: r.cloudUsers.ok,
    steps: r.steps.map((s) => ({ name: s.name.replace(/^\S+\s+/, ''), ms: s.ms })),
    ms: r.steps.reduce((a, s) => a + s.ms, 0),
  });
  out.line();
  printVerifyReport(out, r.sync.verify);
  out.line();
  printCredentials(out, r.users.users, password);
  out.line();
  out.line('⏱️  Steps:');
  for (const s of r.steps)
    out.line(`   ${formatSeconds(s.ms).padStart(8)}  ${s.name.replace(/^\S+\s+/, '')}`);
  out.line(`   ${formatSeconds(r.steps.reduce((a, s) => a + s.ms, 0)).padStart(8)}  total`);
  out.line();
  out.line('🔗 Connect:');
  out.line(`   Local DB:         ${redactUrl(r.config.local.url)}`);
  out.line(`   Sandbox cloud DB: ${redactUrl(r.config.cloud!.url)}`);
  out.line(
    `   psql: PGPASSFILE="${r.stack.passFile}" psql "postgresql://postgres@127.0.0.1:${new URL(r.config.local.url).port}/postgres"`,
  );
  out.line(`   Backup of the cloud before the push: ${shownPath(config.projectDir, r.sync.backupFile)}`);
  out.line();
  out.line(
    ok
      ? '✅ Demo complete. The stack keeps running; `npm run stack:down` stops it.'
      : '❌ Demo finished with differences (see above).',
  );
  return ok ? 0 : 1;
}
