/**
 * crm-env's command line. This file only declares commands and flags, in one vocabulary:
 * - `--target local|cloud|<url>` wherever a database is chosen ({@link withTarget}); the positional
 *   forms the spec uses (`users create <url>`, `migrate deploy cloud`) are aliases of it;
 * - `--yes` confirms, wherever something is overwritten ({@link withYes}; `--force` is its alias on push);
 * - `--json` on every command ({@link withJson}): one JSON document on stdout, on success and failure.
 * Each action is normalised to one options object ({@link normaliseOptions}) and dispatched to its
 * command module, imported lazily (start-up stays fast); src/cli/run.ts maps every error to an exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { CliSession, Environment } from './context.js';
import { newSession } from './context.js';
import { npmSwallowedFlags, swallowedFlagsError } from './npm-flags.js';
import { finishRun, reportError } from './run.js';

/** A command run as the program parsed it: its path ("migrate deploy") and normalised options. */
export interface CommandRun {
  readonly path: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** Runs a parsed command; returns its exit code. Tests pass one that only records the run. */
export type Dispatch = (session: CliSession, run: CommandRun) => Promise<number>;

type CommandFn = (session: CliSession, options: never) => Promise<number>;

/** Every command's implementation, imported only when it runs. */
const COMMANDS: Readonly<Record<string, () => Promise<CommandFn>>> = {
  'users create': async () => (await import('./commands/users.js')).createUsersCommand,
  'users check': async () => (await import('./commands/users.js')).checkUsersCommand,
  'seed export': async () => (await import('./commands/seed.js')).seedExportCommand,
  'sync push': async () => (await import('./commands/sync.js')).syncPushCommand,
  verify: async () => (await import('./commands/sync.js')).verifyCommand,
  reset: async () => (await import('./commands/reset.js')).resetCommand,
  'migrate status': async () => (await import('./commands/migrate-files.js')).migrateStatusCommand,
  'migrate new': async () => (await import('./commands/migrate-files.js')).migrateNewCommand,
  'migrate up': async () => (await import('./commands/migrate.js')).migrateUpCommand,
  'migrate validate': async () => (await import('./commands/migrate.js')).validateCommand,
  'migrate deploy': async () => (await import('./commands/migrate.js')).deployCommand,
  'migrate backup': async () => (await import('./commands/backup.js')).backupCommand,
  restore: async () => (await import('./commands/backup.js')).restoreCommand,
  'backups list': async () => (await import('./commands/backup.js')).backupsListCommand,
  'stack up': async () => (await import('./commands/stack.js')).stackUpCommand,
  'stack down': async () => (await import('./commands/stack.js')).stackDownCommand,
  'stack status': async () => (await import('./commands/stack.js')).stackStatusCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
};

export const runCommand: Dispatch = async (session, run) => {
  const fn = (await COMMANDS[run.path]!()) as (s: CliSession, o: unknown) => Promise<number>;
  return fn(session, run.options);
};

const TARGET_HELP = 'local, cloud, or a postgresql:// URL';
/** Positional arguments that are another way of writing `--target`. */
const TARGET_ARGUMENTS = new Set(['target', 'db-url']);

/** `--target <target>`: which database; `fallback` is the default (none: optional, or required). */
export function withTarget(
  cmd: Command,
  fallback: string | undefined,
  help = TARGET_HELP,
  required = false,
): Command {
  const option = new Option('--target <target>', help);
  if (fallback !== undefined) option.default(fallback);
  if (required) option.makeOptionMandatory();
  return cmd.addOption(option);
}

/** `--yes`: confirms `what` without asking (required where nobody can be asked). */
export function withYes(cmd: Command, what: string): Command {
  return cmd.option('--yes', `confirm ${what} without asking (required without a terminal)`);
}

/** `--json`: the result as one JSON document on stdout, on success and on failure. */
export function withJson(cmd: Command): Command {
  return cmd.option('--json', 'print the result as JSON (also on failure: ok, error, exitCode)');
}

/** `--delete-non-test-data`: the named choice to remove rows of users who are not test users. */
export function withDeleteNonTestData(cmd: Command, what: string): Command {
  return cmd.option('--delete-non-test-data', `${what} (refused without it; backed up first)`);
}

/** A whole number of at least `min`, for options such as `--keep <n>` (bad input: exit 2). */
function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`must be a whole number of at least ${min}.`);
    return Number(value);
  };
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * One options object per run: commander's options, the positional arguments by name, a positional
 * target as `target` (given twice with different values: exit 2), and `--force` as `yes`.
 */
export function normaliseOptions(cmd: Command, args: readonly unknown[]): Record<string, unknown> {
  const options: Record<string, unknown> = { ...cmd.opts() };
  cmd.registeredArguments.forEach((argument, i) => {
    const value = args[i];
    if (value === undefined) return;
    if (!TARGET_ARGUMENTS.has(argument.name())) {
      options[camel(argument.name())] = value;
      return;
    }
    if (cmd.getOptionValueSource('target') === 'cli' && options.target !== value)
      throw new UsageError(
        `Two targets given (${String(value)} and --target ${String(options.target)}): give one. Nothing was changed.`,
      );
    options.target = value;
  });
  if (options.force !== undefined) {
    options.yes = options.yes === true || options.force === true;
    delete options.force;
  }
  return options;
}

function declareDevCommands(program: Command, leaf: (cmd: Command) => Command): void {
  program.commandsGroup('Dev commands (test users, seed file, sync, verify, reset):');
  const users = program.command('users').description('Test users for the three CRM roles, with their data');
  leaf(
    withDeleteNonTestData(
      withTarget(
        users
          .command('create')
          .description(
            'Create the admin, sales director and account manager test users with deterministic CRM data',
          )
          .argument('[db-url]', 'database URL (same as --target <url>)'),
        'local',
      ),
      'also delete or change rows of non-test users that hang off the test users’ rows',
    ),
  );
  leaf(
    withTarget(
      users
        .command('check')
        .description(
          'Prove the test users can sign in and that row-level security gives each role what it should',
        ),
      'local',
    ),
  );

  const seed = program
    .command('seed')
    .description('supabase/seed.sql, the seed file `supabase db reset` loads');
  const seedExport = seed
    .command('export')
    .description(
      'Write supabase/seed.sql with exactly the test users and data `users create` makes (plain SQL, for supabase db reset)',
    )
    .option('--output <file>', 'where to write (default: supabase/seed.sql in the project)')
    .option('--check', 'write nothing; exit 1 when the file differs from what the export would write now');
  withYes(seedExport, 'replacing a file that crm-env did not write');
  leaf(seedExport);

  const sync = program.command('sync').description('Push local data to the cloud');
  const push = sync
    .command('push')
    .description('Replace the cloud data with local data in one transaction, after a backup; then verify');
  withYes(push, 'that the target’s data will be overwritten');
  withDeleteNonTestData(push, 'also delete cloud rows of users who are not test users');
  push.option(
    '--dry-run',
    'change nothing: report per table the cloud rows now and after, the non-test rows it would remove and the test users added or replaced (reads only, no --yes needed)',
  );
  leaf(push.option('--force', 'same as --yes (the spec’s name)'));

  const verify = program
    .command('verify')
    .description('Compare local and cloud: row counts, content checksums, test users, migration history');
  withTarget(verify, 'cloud', `the database to compare local with: ${TARGET_HELP}`);
  verify.option('--diff', 'name the rows that differ, by primary key (found by hashing key ranges)');
  verify.addOption(
    new Option('--limit <n>', 'with --diff: rows named per table and kind')
      .default(10)
      .argParser(wholeNumber(1)),
  );
  leaf(verify);

  const reset = program
    .command('reset')
    .description('Back up, then reset local (and cloud) to fresh test users and data');
  withYes(reset, 'the reset');
  withDeleteNonTestData(reset, 'also delete the rows of users who are not test users');
  leaf(reset.option('--local-only', 'reset the local database only'));
}

function declareMigrationCommands(program: Command, leaf: (cmd: Command) => Command): void {
  program.commandsGroup(
    'Migration commands (status, new, apply, validate, deploy, backup, restore, backups):',
  );
  const migrate = program
    .command('migrate')
    .description('Status, new, apply, validate, deploy and back up migrations');
  leaf(
    migrate
      .command('status')
      .description(
        'Per migration file, local and cloud side by side: applied, pending, edited after apply, missing locally',
      ),
  );
  leaf(
    migrate
      .command('new')
      .description('Create supabase/migrations/<timestamp>_<name>.sql, named as the Supabase CLI names them')
      .argument('<name>', 'what the migration does, e.g. add_contact_source'),
  );
  const up = migrate
    .command('up')
    .description('Apply pending supabase/migrations in one transaction, recording Supabase CLI history');
  withTarget(up, 'local');
  leaf(up.option('--include-all', 'also apply pending files older than the newest applied migration'));

  const validate = migrate
    .command('validate')
    .description('Check file names, parse, lint for dangerous operations, rehearse on a throwaway database');
  withTarget(validate, undefined, 'also compare with this database’s history (local, cloud or URL)');
  validate
    .option('--strict', 'treat warnings as errors')
    .option('--no-rehearsal', 'skip applying every migration to a throwaway database on the local server');
  leaf(validate);

  const deploy = migrate
    .command('deploy')
    .description('Validate, dry-run, back up, apply in one transaction with rollback, then post-check')
    .argument('[target]', `same as --target: ${TARGET_HELP}`);
  withTarget(deploy, 'cloud');
  deploy.option('--dry-run', 'apply inside a transaction that is always rolled back, and report');
  withYes(deploy, 'the deploy');
  deploy
    .addOption(
      new Option('--lock-timeout <duration>', 'Postgres lock_timeout for the migrations').default('5s'),
    )
    .addOption(
      new Option(
        '--statement-timeout <duration>',
        'Postgres statement_timeout for the migrations (default: the server’s)',
      ),
    )
    .addOption(
      new Option('--retries <n>', 'retries when the lock timeout hits, with 1 s, 2 s, 4 s… backoff')
        .default(3)
        .argParser(wholeNumber(0)),
    )
    .option('--include-all', 'also apply pending files older than the newest applied migration');
  leaf(deploy);

  const backup = migrate
    .command('backup')
    .description('Write a timestamped pg_dump backup to backups/migrations/ (mode 0600)')
    .argument('[target]', `same as --target: ${TARGET_HELP}`);
  withTarget(backup, 'cloud');
  backup
    .option('--data-only', 'data only (smaller; what sync uses)')
    .option('--schema-only', 'schema and migration history, no table rows (a shadow copy for CI rehearsals)')
    .addOption(
      new Option('--keep <n>', 'keep only the newest n backups of this target').argParser(wholeNumber(1)),
    );
  leaf(backup);

  const restore = program
    .command('restore')
    .description('Restore a backup file into a database in one transaction, after backing it up')
    .argument('<file>', 'backup file (.sql) from migrate backup or sync');
  withTarget(restore, undefined, TARGET_HELP, true);
  withYes(restore, 'the restore');
  leaf(
    restore.option(
      '--legacy',
      'accept a file without a crm-env manifest (older backups): nothing proves it complete',
    ),
  );

  const backups = program.command('backups').description('Backup files');
  leaf(
    backups
      .command('list')
      .description('List backup files: kind, target, time, size, rows and whether each is complete'),
  );
}

function declareStackCommands(program: Command, leaf: (cmd: Command) => Command): void {
  program.commandsGroup('Stack commands (the embedded local stack, no Docker):');
  const stack = program
    .command('stack')
    .description('The embedded local stack (two PostgreSQL servers, no Docker)');
  leaf(
    stack
      .command('up')
      .description('Start the local and sandbox-cloud servers, apply the base schema and migrations'),
  );
  leaf(stack.command('down').description('Stop the servers the stack started (data is kept)'));
  leaf(
    stack
      .command('status')
      .description('Show each server, its port and whether it answers (exit 1 if one is down)'),
  );
  leaf(
    program
      .command('demo')
      .description('The whole workflow on the embedded stack: start, users, push, verify'),
  );
}

/**
 * The program. Every runnable command gets `--json` and an action that records the command and its
 * JSON mode in the session, normalises the options and dispatches.
 */
export function buildProgram(session: CliSession = newSession(), dispatch: Dispatch = runCommand): Command {
  const program = new Command('crm-env')
    .description(
      'Local-first Supabase database workflow for the CRM: test users, all-or-nothing local-to-cloud sync,\nparity checks, backups, environment reset and safe migration deploys.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // A group's options (its hidden --json) only before its subcommand: `stack up --json` is up's.
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: false, helpWidth: 100 });

  const leaf = (cmd: Command): Command =>
    withJson(cmd).action(async (...args: unknown[]) => {
      const path = commandPath(cmd);
      session.command = path;
      session.json ||= cmd.opts().json === true;
      const options = normaliseOptions(cmd, args.slice(0, cmd.registeredArguments.length));
      session.exitCode = await dispatch(session, { path, options });
    });
  declareDevCommands(program, leaf);
  declareMigrationCommands(program, leaf);
  declareStackCommands(program, leaf);

  program.addHelpText(
    'after',
    () => `\nEvery command, with the npm script that runs it:\n${commandIndex(program)}`,
  );
  for (const cmd of [program, ...allCommands(program)]) {
    cmd.exitOverride().allowExcessArguments(false);
    // `crm-env users --json`: still help and exit 2 for the missing subcommand, as JSON.
    if (cmd.commands.length > 0) cmd.addOption(new Option('--json').hideHelp());
  }
  return program;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** npm scripts (package.json) that run each command, for the help index and the docs. */
export const NPM_SCRIPTS: Readonly<Record<string, string>> = {
  'users create': 'dev:users:create',
  'users check': 'dev:users:check',
  'seed export': 'seed:export',
  'sync push': 'dev:sync:push',
  verify: 'dev:verify',
  reset: 'dev:reset',
  'migrate status': 'migrate:status',
  'migrate new': 'migrate:new',
  'migrate up': 'migrate:up',
  'migrate validate': 'migrate:validate',
  'migrate deploy': 'migrate:deploy',
  'migrate backup': 'migrate:backup',
  restore: 'migrate:restore',
  'backups list': 'migrate:backups',
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

export interface MainOptions {
  /** The environment the CLI was started with (default: the process's). */
  readonly env?: Environment;
  readonly cwd?: string;
  /** Runs the parsed command (default: the real one; tests record instead). */
  readonly dispatch?: Dispatch;
}

/** `--json` among the arguments (before `--`), for failures before a command is matched. */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** One run of the CLI: parse, refuse flags npm swallowed, dispatch, map errors; returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const session = newSession({ env: options.env ?? process.env, cwd: options.cwd ?? process.cwd() });
  session.json = jsonRequested(argv);
  const program = buildProgram(session, options.dispatch);
  try {
    const swallowed = npmSwallowedFlags(leafCommands(program), argv, session.env);
    if (swallowed) {
      session.command = swallowed.path;
      session.json ||= swallowed.flags.includes('--json');
      throw swallowedFlagsError(swallowed);
    }
    await program.parseAsync([...argv], { from: 'user' });
    return finishRun(session, session.exitCode ?? 0);
  } catch (err) {
    if (
      err instanceof CommanderError &&
      (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
    )
      return 0;
    return finishRun(session, reportError(err, session.secrets), err);
  }
}
