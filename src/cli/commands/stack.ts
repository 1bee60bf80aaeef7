import { formatSeconds } from '../../format.js';
import { redactUrl } from '../../redact.js';
import type { StackServerInfo } from '../../stack/stack.js';
import { stackDown, stackStatus, stackUp } from '../../stack/stack.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';

const shown = (servers: readonly StackServerInfo[]) => servers.map((s) => ({ ...s, url: redactUrl(s.url) }));

export async function stackUpCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session, { stackUrls: false });
  out.line('🚀 Starting the embedded stack (local + sandbox cloud)...');
  const result = await stackUp(config, out);
  out.json({ ...result, servers: shown(result.servers) });
  const [local, sandbox] = [
    result.servers.find((s) => s.name === 'local')!,
    result.servers.find((s) => s.name === 'sandbox')!,
  ];
  out.line();
  if (result.servers.every((s) => s.action === 'already running')) out.line('✅ Stack already running.');
  else out.line(`✅ Stack is up (${formatSeconds(result.ms)}).`);
  out.line(`   PostgreSQL ${result.major} (${result.binDir})`);
  out.line(`   Local DB:         ${redactUrl(local.url)}`);
  out.line(`   Sandbox cloud DB: ${redactUrl(sandbox.url)}`);
  out.line(`   Migrations applied now: ${result.migrationsApplied}`);
  out.line();
  out.line(
    '   crm-env commands use these automatically. To use them from a shell (passwords stay in the pgpass file):',
  );
  out.line(`   export PGPASSFILE="${result.passFile}"`);
  out.line(`   export LOCAL_DATABASE_URL="postgresql://postgres@127.0.0.1:${local.port}/postgres"`);
  out.line(`   export DATABASE_URL_PRODUCTION="postgresql://postgres@127.0.0.1:${sandbox.port}/postgres"`);
  return 0;
}

export async function stackDownCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session, { stackUrls: false });
  const servers = await stackDown(config);
  out.json({ servers: shown(servers) });
  if (servers.length === 0) {
    out.line('No embedded stack here (nothing to stop).');
    return 0;
  }
  for (const s of servers) out.line(`   ${s.name}: ${s.action} (port ${s.port})`);
  out.line('✅ Stack stopped. Data is kept in the stack folder; `npm run stack:up` starts it again.');
  return 0;
}

export async function stackStatusCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session, { stackUrls: false });
  const servers = await stackStatus(config);
  if (servers === null) {
    out.json({ servers: [], up: false });
    out.line('No embedded stack here: run `npm run stack:up`.');
    return 1;
  }
  const up = servers.every((s) => s.answers);
  out.json({ up, servers: shown(servers) });
  for (const s of servers) {
    out.line(
      `${s.answers ? '✅' : '❌'} ${s.name.padEnd(8)} port ${s.port}  ${s.answers ? 'answers' : s.running ? 'running but not answering' : 'stopped'}  ${redactUrl(s.url)}`,
    );
  }
  return up ? 0 : 1;
}
