import type { Config } from '../../config.js';
import { describeTarget, resolveTarget } from '../../config.js';
import { formatSeconds } from '../../format.js';
import type { UserSummary } from '../../dev/test-users.js';
import { createTestUsers, label } from '../../dev/test-users.js';
import type { Output } from '../output.js';
import { checkTestUsers } from '../../dev/users-check.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { withInterrupts } from '../interrupt.js';

const ROLE_TITLES: Readonly<Record<UserSummary['role'], string>> = {
  admin: 'Admin',
  sales_director: 'Sales Director',
  account_manager: 'Account Manager',
};

/**
 * The test password as it may be shown: the built-in default is a test password, not a secret, so it is
 * shown; a TEST_USER_PASSWORD someone set is never printed (null).
 */
export function shownTestPassword(config: Config): string | null {
  return config.testUsers.passwordIsDefault ? config.testUsers.password : null;
}

/** The spec's credentials block: the default test password shown, a configured one masked. */
export function printCredentials(out: Output, users: readonly UserSummary[], password: string | null): void {
  out.line(
    password === null
      ? '🔑 Login credentials (the password is the value of TEST_USER_PASSWORD and is never printed):'
      : '🔑 Login credentials (the built-in test password; set TEST_USER_PASSWORD to use your own):',
  );
  for (const u of users)
    out.line(`   ${`${ROLE_TITLES[u.role]}:`.padEnd(17)}${u.email} / ${password ?? '********'}`);
}

export async function createUsersCommand(
  session: CliSession,
  opts: { target: string; deleteNonTestData?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const target = resolveTarget(config, opts.target);
  out.line('👥 Creating test users with role-specific data...');
  out.line(`   Database: ${describeTarget(target)}`);
  const result = await withInterrupts(out, (signal) =>
    createTestUsers(config, target, out, { signal, deleteNonTestData: opts.deleteNonTestData ?? false }),
  );
  const password = shownTestPassword(config);
  out.json({ target: target.label, ...result, testPassword: password });
  out.line();
  out.line(`✅ Test users created successfully! (${formatSeconds(result.ms)})`);
  out.line();
  printCredentials(out, result.users, password);
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

export async function checkUsersCommand(session: CliSession, opts: { target: string }): Promise<number> {
  const { config, out } = commandContext(session);
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
