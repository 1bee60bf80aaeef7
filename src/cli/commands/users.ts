import { describeTarget, resolveTarget } from '../../config.js';
import type { UserSummary } from '../../dev/test-users.js';
import { createTestUsers, label } from '../../dev/test-users.js';
import type { Output } from '../output.js';
import { checkTestUsers } from '../../dev/users-check.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';

const ROLE_TITLES: Readonly<Record<UserSummary['role'], string>> = {
  admin: 'Admin',
  sales_director: 'Sales Director',
  account_manager: 'Account Manager',
};

/** The spec's credentials block, with the password masked (it is never printed). */
export function printCredentials(out: Output, users: readonly UserSummary[]): void {
  out.line('🔑 Login credentials (the password is the value of TEST_USER_PASSWORD and is never printed):');
  for (const u of users) out.line(`   ${`${ROLE_TITLES[u.role]}:`.padEnd(17)}${u.email} / ********`);
}

export async function createUsersCommand(
  session: CliSession,

  dbUrl: string | undefined,
  opts: { target: string; json?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session, { json: opts.json });
  const target = resolveTarget(config, dbUrl ?? opts.target);
  out.line('👥 Creating test users with role-specific data...');
  out.line(`   Database: ${describeTarget(target)}`);
  const result = await createTestUsers(config, target, out);
  out.json({ target: target.label, ...result });
  out.line();
  out.line(`✅ Test users created successfully! (${(result.ms / 1000).toFixed(2)} s)`);
  out.line();
  printCredentials(out, result.users);
  out.line();
  out.line('📊 Data summary:');
  for (const u of result.users) {
    const c = u.counts;
    out.line(
      `   ${`${label(u.role)}:`.padEnd(10)}${String(c.contacts).padStart(3)} contacts, ${c.organizations} orgs, ${c.opportunities} opportunities, ${c.activities} activities, ${c.notes} notes, ${c.tasks} tasks, ${c.products} products`,
    );
  }
  return 0;
}

export async function checkUsersCommand(
  session: CliSession,
  opts: { target: string; json?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session, { json: opts.json });
  const target = resolveTarget(config, opts.target);
  out.line(`🔐 Checking test users on ${describeTarget(target)}`);
  const report = await checkTestUsers(config, target);
  out.json({ target: target.label, ...report });
  for (const u of report.users) {
    out.line(
      `${u.ok ? '✅' : '❌'} ${u.email} (${u.role})${u.ok ? ': can sign in; RLS gives the role exactly its rows' : ''}`,
    );
    for (const p of u.problems) out.line(`   - ${p}`);
  }
  return report.ok ? 0 : 1;
}
