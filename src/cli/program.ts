/**
 * crm-env's command line. This file only declares commands and flags; each action imports its command
 * module lazily (start-up stays fast), and src/cli/run.ts maps every error to an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CliSession } from './context.js';
import { newSession } from './context.js';
import { reportError } from './run.js';

export interface GlobalOptions {
  readonly json?: boolean;
}

type Action = (session: CliSession, ...args: never[]) => Promise<number | void>;
type Act = <T extends Action>(load: () => Promise<T>) => (...args: unknown[]) => Promise<void>;

/** Wraps an action for one run: lazy import, the session first, exit code from the result or the error. */
function actions(session: CliSession): Act {
  return (load) =>
    async (...args) => {
      const fn = (await load()) as unknown as (s: CliSession, ...a: unknown[]) => Promise<number | void>;
      const code = await fn(session, ...args);
      process.exitCode = typeof code === 'number' ? code : 0;
    };
}

const TARGET_HELP = 'local, cloud, or a postgresql:// URL';

export function buildProgram(session: CliSession = newSession()): Command {
  const act = actions(session);
  const program = new Command('crm-env')
    .description(
      'Local-first Supabase database workflow for the CRM: test users, all-or-nothing local-to-cloud sync,\nparity checks, backups, environment reset and safe migration deploys.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, helpWidth: 100 });

  // ---- dev -------------------------------------------------------------------------------------
  program.commandsGroup('Dev commands (test users, sync, verify, reset):');
  const users = program.command('users').description('Test users for the three CRM roles, with their data');
  users
    .command('create')
    .description(
      'Create the admin, sales director and account manager test users with deterministic CRM data',
    )
    .argument('[db-url]', 'database URL (same as --target <url>)')
    .option('--target <target>', TARGET_HELP, 'local')
    .option('--json', 'print the summary as JSON')
    .action(act(async () => (await import('./commands/users.js')).createUsersCommand));
  users
    .command('check')
    .description(
      'Prove the test users can sign in and that row-level security gives each role what it should',
    )
    .option('--target <target>', TARGET_HELP, 'local')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/users.js')).checkUsersCommand));

  const sync = program.command('sync').description('Push local data to the cloud');
  sync
    .command('push')
    .description('Replace the cloud data with local data in one transaction, after a backup; then verify')
    .option('--force', 'confirm that the cloud data will be overwritten')
    .option('--json', 'print the summary as JSON')
    .action(act(async () => (await import('./commands/sync.js')).syncPushCommand));

  program
    .command('verify')
    .description('Compare local and cloud: row counts, content checksums, test users, migration history')
    .option('--json', 'print the report as JSON')
    .action(act(async () => (await import('./commands/sync.js')).verifyCommand));

  program
    .command('reset')
    .description('Back up, then reset local (and cloud) to fresh test users and data')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--local-only', 'reset the local database only')
    .action(act(async () => (await import('./commands/reset.js')).resetCommand));

  // ---- migration ---------------------------------------------------------------------------------
  program.commandsGroup('Migration commands (apply, validate, deploy, backup, restore):');
  const migrate = program.command('migrate').description('Apply, validate, deploy and back up');
  migrate
    .command('up')
    .description('Apply pending supabase/migrations in one transaction, recording Supabase CLI history')
    .option('--target <target>', TARGET_HELP, 'local')
    .option('--include-all', 'also apply pending files older than the newest applied migration')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/migrate.js')).migrateUpCommand));
  migrate
    .command('validate')
    .description('Check file names, parse, lint for dangerous operations, rehearse on a throwaway database')
    .option('--target <target>', 'also compare with this database’s history (local, cloud or URL)')
    .option('--strict', 'treat warnings as errors')
    .option('--no-rehearsal', 'skip applying every migration to a throwaway database on the local server')
    .option('--json', 'print findings as JSON')
    .action(act(async () => (await import('./commands/migrate.js')).validateCommand));
  migrate
    .command('deploy')
    .description('Validate, dry-run, back up, apply in one transaction with rollback, then post-check')
    .argument('[target]', TARGET_HELP, 'cloud')
    .option('--dry-run', 'apply inside a transaction that is always rolled back, and report')
    .option('--yes', 'do not ask for confirmation (required for cloud without a terminal)')
    .addOption(
      new Option('--lock-timeout <duration>', 'Postgres lock_timeout for the migrations').default('5s'),
    )
    .addOption(
      new Option(
        '--statement-timeout <duration>',
        'Postgres statement_timeout for the migrations (default: the server’s)',
      ),
    )
    .option('--retries <n>', 'retries when the lock timeout hits, with 1 s, 2 s, 4 s… backoff', '3')
    .option('--include-all', 'also apply pending files older than the newest applied migration')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/migrate.js')).deployCommand));
  migrate
    .command('backup')
    .description('Write a timestamped pg_dump backup to backups/migrations/ (mode 0600)')
    .argument('[target]', TARGET_HELP, 'cloud')
    .option('--data-only', 'data only (smaller; what sync uses)')
    .option('--schema-only', 'schema and migration history, no table rows (a shadow copy for CI rehearsals)')
    .option('--keep <n>', 'keep only the newest n backups of this target')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/backup.js')).backupCommand));

  program
    .command('restore')
    .description('Restore a backup file into a database in one transaction, after backing it up')
    .argument('<file>', 'backup file (.sql) from migrate backup or sync')
    .requiredOption('--target <target>', TARGET_HELP)
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/backup.js')).restoreCommand));

  // ---- stack -------------------------------------------------------------------------------------
  program.commandsGroup('Stack commands (the embedded local stack, no Docker):');
  const stack = program
    .command('stack')
    .description('The embedded local stack (two PostgreSQL servers, no Docker)');
  stack
    .command('up')
    .description('Start the local and sandbox-cloud servers, apply the base schema and migrations')
    .action(act(async () => (await import('./commands/stack.js')).stackUpCommand));
  stack
    .command('down')
    .description('Stop the servers the stack started (data is kept)')
    .action(act(async () => (await import('./commands/stack.js')).stackDownCommand));
  stack
    .command('status')
    .description('Show each server, its port and whether it answers (exit 1 if one is down)')
    .option('--json', 'print the status as JSON')
    .action(act(async () => (await import('./commands/stack.js')).stackStatusCommand));

  program
    .command('demo')
    .description('The whole workflow on the embedded stack: start, users, push, verify')
    .action(act(async () => (await import('./commands/demo.js')).demoCommand));

  program.addHelpText(
    'after',
    () => `\nEvery command, with the npm script that runs it:\n${commandIndex(program)}`,
  );

  for (const cmd of [program, ...allCommands(program)]) {
    cmd.exitOverride().allowExcessArguments(false);
  }
  return program;
}

/** npm scripts (package.json) that run each command, for the help index and the docs. */
export const NPM_SCRIPTS: Readonly<Record<string, string>> = {
  'users create': 'dev:users:create',
  'users check': 'dev:users:check',
  'sync push': 'dev:sync:push',
  verify: 'dev:verify',
  reset: 'dev:reset',
  'migrate up': 'migrate:up',
  'migrate validate': 'migrate:validate',
  'migrate deploy': 'migrate:deploy',
  'migrate backup': 'migrate:backup',
  restore: 'migrate:restore',
  'stack up': 'stack:up',
  'stack down': 'stack:down',
  'stack status': 'stack:status',
  demo: 'demo',
};

/** Runnable commands (leaves), as "group sub" paths. */
export function leafCommands(program: Command): { path: string; command: Command }[] {
  const out: { path: string; command: Command }[] = [];
  const walk = (cmd: Command, prefix: string[]): void => {
    for (const c of cmd.commands) {
      if (c.name() === 'help') continue;
      const p = [...prefix, c.name()];
      if (c.commands.length === 0) out.push({ path: p.join(' '), command: c });
      else walk(c, p);
    }
  };
  walk(program, []);
  return out;
}

function commandIndex(program: Command): string {
  return leafCommands(program)
    .map(({ path, command }) => {
      const script = NPM_SCRIPTS[path] ? `npm run ${NPM_SCRIPTS[path]}` : '';
      return `  ${`crm-env ${path}`.padEnd(26)}${script.padEnd(26)}${command.description()}`;
    })
    .join('\n');
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export async function main(argv: readonly string[]): Promise<number> {
  const session = newSession();
  const program = buildProgram(session);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (
      err instanceof CommanderError &&
      (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
    )
      return 0;
    if (err instanceof CommanderError && err.code === 'commander.help') return 0;
    return reportError(err, session.secrets);
  }
}
