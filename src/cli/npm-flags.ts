/**
 * Flags npm kept for itself. `npm run migrate:deploy cloud --dry-run` does not pass `--dry-run` to the
 * script: npm takes every flag before `--` as its own configuration and exports it as
 * `npm_config_dry_run=true` (a flag's value, as in `--target cloud`, is passed on as a plain argument).
 * Run from an npm script of ours, any option of the command found there is refused (exit 2, nothing
 * done) with the exact command to type instead.
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { Environment } from './context.js';

interface Swallowed {
  readonly option: Option;
  /** npm's value: 'true' for a flag, '' for a `--no-…` flag, the value for `--flag=value`. */
  readonly value: string;
}

/** The words of our npm script after `crm-env`/`crm-env.js` (`migrate deploy`), or null. */
function scriptWords(env: Environment): string[] | null {
  const script = env.npm_lifecycle_script;
  if (!script || !env.npm_lifecycle_event || env.npm_lifecycle_event === 'npx') return null;
  const m = /(?:^|\s)\S*crm-env(?:\.js)?\s+(.+)$/.exec(script);
  return m ? m[1]!.trim().split(/\s+/) : null;
}

function swallowedOptions(command: Command, env: Environment): Swallowed[] {
  return command.options.flatMap((option) => {
    if (!option.long) return [];
    const name = option.long.replace(/^--(no-)?/, '').replace(/-/g, '_');
    const value = env[`npm_config_${name}`];
    if (value === undefined) return [];
    // npm exports a flag set to false (e.g. `yes=false` in ~/.npmrc) as ''.
    if (option.negate ? value !== '' : value === '') return [];
    return [{ option, value }];
  });
}

const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The command line to type: the script's own arguments, then the flags npm kept, after `--`. */
function retryCommand(event: string, userArgs: readonly string[], swallowed: readonly Swallowed[]): string {
  const args = [...userArgs];
  const flags: string[] = [];
  for (const { option, value } of swallowed) {
    if (option.negate || !(option.required || option.optional)) flags.push(option.long!);
    else if (value !== 'true') flags.push(option.long!, value);
    else {
      // npm passed the flag's value on as an argument; flags usually come last, so it is the last one.
      const i = args.findLastIndex((a) => !a.startsWith('-'));
      flags.push(option.long!, i >= 0 ? args.splice(i, 1)[0]! : `<${option.long!.slice(2)}>`);
    }
  }
  return `npm run ${event} -- ${[...args, ...flags].map(shellWord).join(' ')}`;
}

export interface SwallowedFlags {
  /** The command the npm script runs ("migrate deploy"). */
  readonly path: string;
  /** The flags npm kept (`--dry-run`). */
  readonly flags: readonly string[];
  /** What to type instead: `npm run migrate:deploy -- cloud --dry-run`. */
  readonly command: string;
}

/** The flags of the command our npm script runs that npm kept for itself; null when there are none. */
export function npmSwallowedFlags(
  leaves: readonly { path: string; command: Command }[],
  argv: readonly string[],
  env: Environment,
): SwallowedFlags | null {
  const words = scriptWords(env);
  const leaf = words && leaves.find((l) => words.slice(0, l.path.split(' ').length).join(' ') === l.path);
  if (!words || !leaf) return null;
  const swallowed = swallowedOptions(leaf.command, env);
  if (swallowed.length === 0) return null;
  const ours = argv.slice(0, words.length).join(' ') === words.join(' ');
  return {
    path: leaf.path,
    flags: swallowed.map((s) => s.option.long!),
    command: retryCommand(env.npm_lifecycle_event!, ours ? argv.slice(words.length) : argv, swallowed),
  };
}

/** The refusal (exit 2) for {@link npmSwallowedFlags}: one sentence, then the command to type. */
export function swallowedFlagsError(found: SwallowedFlags): UsageError {
  const them = found.flags.length > 1 ? 'them' : 'it';
  return new UsageError(
    `npm kept ${found.flags.join(', ')} for itself instead of passing ${them} on (flags for the script go after \`--\`); nothing was changed. Type instead:`,
    { details: [found.command] },
  );
}
