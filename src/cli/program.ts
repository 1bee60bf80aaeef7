/**
 * crm-env's command line. This file only declares commands and flags; each action imports its command
 * module lazily (start-up stays fast), and src/cli/run.ts maps every error to an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { knownSecrets } from './context.js';
import { reportError } from './run.js';

export interface GlobalOptions {
  readonly json?: boolean;
}

type Action = (...args: never[]) => Promise<number | void>;

/** Wraps an action: lazy import, exit code from the result or the error. */
function act<T extends Action>(load: () => Promise<T>) {
  return async (...args: unknown[]): Promise<void> => {
    const fn = await load();
    const code = await (fn as unknown as (...a: unknown[]) => Promise<number | void>)(...args);
    process.exitCode = typeof code === 'number' ? code : 0;
  };
}

const TARGET_HELP = 'local, cloud, or a postgresql:// URL';

export function buildProgram(): Command {
  const program = new Command('crm-env')
    .description(
      'Local-first Supabase database workflow for the CRM: test users, all-or-nothing local-to-cloud sync,\nparity checks, backups, environment reset and safe migration deploys.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

  // ---- dev -------------------------------------------------------------------------------------
  const users = program.command('users').description('dev: test users for the three CRM roles, with their data');
  users
    .command('create')
    .description('Create the admin, sales director and account manager test users with deterministic CRM data')
    .argument('[db-url]', 'database URL (same as --target <url>)')
    .option('--target <target>', TARGET_HELP, 'local')
    .option('--json', 'print the summary as JSON')
    .action(act(async () => (await import('./commands/users.js')).createUsersCommand));
  users
    .command('check')
    .description('Prove the test users can sign in and that row-level security gives each role what it should')
    .option('--target <target>', TARGET_HELP, 'local')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/users.js')).checkUsersCommand));

  const sync = program.command('sync').description('dev: push local data to the cloud');
  sync
    .command('push')
    .description('Replace the cloud data with local data in one transaction, after a backup; then verify')
    .option('--force', 'confirm that the cloud data will be overwritten')
    .option('--json', 'print the summary as JSON')
    .action(act(async () => (await import('./commands/sync.js')).syncPushCommand));

  program
    .command('verify')
    .description('dev: compare local and cloud: row counts, content checksums, test users, migration history')
    .option('--json', 'print the report as JSON')
    .action(act(async () => (await import('./commands/sync.js')).verifyCommand));

  program
    .command('reset')
    .description('dev: back up, then reset local (and cloud) to fresh test users and data')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--local-only', 'reset the local database only')
    .action(act(async () => (await import('./commands/reset.js')).resetCommand));

  // ---- migration ---------------------------------------------------------------------------------
  const migrate = program.command('migrate').description('migration: apply, validate, deploy and back up');
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
    .option('--json', 'print findings as JSON')
    .action(act(async () => (await import('./commands/migrate.js')).validateCommand));
  migrate
    .command('deploy')
    .description('Validate, dry-run, back up, apply in one transaction with rollback, then post-check')
    .argument('[target]', TARGET_HELP, 'cloud')
    .option('--dry-run', 'apply inside a transaction that is always rolled back, and report')
    .option('--yes', 'do not ask for confirmation (required for cloud without a terminal)')
    .addOption(new Option('--lock-timeout <duration>', 'Postgres lock_timeout for the migrations').default('5s'))
    .addOption(new Option('--statement-timeout <duration>', 'Postgres statement_timeout for the migrations').default('0'))
    .option('--retries <n>', 'retries when the lock timeout hits', '3')
    .option('--include-all', 'also apply pending files older than the newest applied migration')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/migrate.js')).deployCommand));
  migrate
    .command('backup')
    .description('Write a timestamped pg_dump backup to backups/migrations/ (mode 0600)')
    .argument('[target]', TARGET_HELP, 'cloud')
    .option('--data-only', 'data only (smaller; what sync uses)')
    .option('--keep <n>', 'keep only the newest n backups of this target')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/backup.js')).backupCommand));

  program
    .command('restore')
    .description('migration: restore a backup file into a database in one transaction, after backing it up')
    .argument('<file>', 'backup file (.sql) from migrate backup or sync')
    .requiredOption('--target <target>', TARGET_HELP)
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json', 'print the result as JSON')
    .action(act(async () => (await import('./commands/backup.js')).restoreCommand));

  // ---- stack -------------------------------------------------------------------------------------
  const stack = program.command('stack').description('stack: the embedded local stack (two PostgreSQL servers, no Docker)');
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
    .description('stack: the whole workflow on the embedded stack: start, users, push, verify')
    .action(act(async () => (await import('./commands/demo.js')).demoCommand));

  for (const cmd of [program, ...allCommands(program)]) {
    cmd.exitOverride().allowExcessArguments(false);
  }
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) return 0;
    if (err instanceof CommanderError && err.code === 'commander.help') return 0;
    return reportError(err, knownSecrets());
  }
}
