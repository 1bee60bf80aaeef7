/**
 * `crm-env seed export`: supabase/seed.sql with the test users and their data, for `supabase db reset`.
 */
import path from 'node:path';
import { checkSeedFile, exportSeed } from '../../dev/seed-export.js';
import { formatBytes, formatSeconds, shownPath } from '../../format.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { shownTestPassword } from './users.js';

export async function seedExportCommand(
  session: CliSession,
  opts: { output?: string; yes?: boolean; check?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const file = opts.output
    ? path.resolve(session.cwd, opts.output)
    : path.join(config.projectDir, 'supabase', 'seed.sql');
  const shown = shownPath(config.projectDir, file);
  if (opts.check) {
    const check = await checkSeedFile(config, file);
    out.json({ ...check });
    if (check.upToDate)
      out.line(`✅ ${shown} is what \`seed export\` writes now (${formatBytes(check.expectedBytes)})`);
    else
      out.line(
        `❌ ${shown} ${check.missing ? 'does not exist' : 'is out of date'}: run \`npm run seed:export\` and commit it`,
      );
    return check.upToDate ? 0 : 1;
  }
  out.line(`🌱 Writing the test users and their data to ${shown}...`);
  const result = await exportSeed(config, { file, replaceForeign: opts.yes === true }, out);
  const password = shownTestPassword(config);
  out.json({ ...result, testPassword: password });
  const rows = Object.values(result.rowsByTable).reduce((a, b) => a + b, 0);
  out.line(
    `✅ Wrote ${shown}: ${result.users.length} test users, ${rows} rows of CRM data, ${formatBytes(result.bytes)} (${formatSeconds(result.ms)})`,
  );
  out.line();
  out.line(
    '   `supabase db reset` loads it after the migrations ([db.seed] in supabase/config.toml); by hand:',
  );
  out.line(`   psql -1 -v ON_ERROR_STOP=1 -f ${shown} <database-url>`);
  out.line();
  out.line('🔑 Logins once it is loaded (the built-in test password):');
  for (const u of result.users) out.line(`   ${u.email} (${u.role}) / ${password ?? '********'}`);
  return 0;
}
