/**
 * The documentation names only things that exist: every `npm run X` / `npm test` is a package.json
 * script, every `crm-env …` a command of the CLI, and every usage block in docs/scripts.md is what the
 * built CLI prints for `--help` (the blocks are generated: `npm run docs`).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { documentedCommands } from '../src/cli/docs.js';
import { buildProgram, leafCommands, NPM_SCRIPTS } from '../src/cli/program.js';

/** README and every Markdown file under docs/ (a new page is checked without being listed here). */
const DOCS = [
  'README.md',
  ...readdirSync('docs', { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f))
    .sort(),
];
const scriptsDoc = readFileSync('docs/scripts.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
const run = promisify(execFile);

/** Each usage block of docs/scripts.md: the command path and the text inside its ```text fence. */
function usageBlocks(markdown: string): { path: string; text: string }[] {
  return [
    ...markdown.matchAll(/<!-- usage: ([a-z -]+) -->\n```text\n([\s\S]*?)\n```\n<!-- \/usage -->/g),
  ].map((m) => ({ path: m[1]!.trim(), text: m[2]! }));
}

/**
 * True when `words` name a command: the first a top-level command, each next one a subcommand while
 * there are subcommands; words after a leaf command are its arguments.
 */
function namesCommand(program: Command, words: readonly string[]): boolean {
  let command = program;
  for (const word of words) {
    if (command !== program && command.commands.length === 0) return true;
    const next = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) return false;
    command = next;
  }
  return command !== program;
}

describe('documentation matches the code', () => {
  it('every usage block in docs/scripts.md is exactly what the built CLI prints for --help', async () => {
    const blocks = usageBlocks(scriptsDoc);
    expect(blocks.map((b) => b.path)).toEqual(documentedCommands(scriptsDoc));
    const bin = path.resolve('bin/crm-env.js');
    const printed = await Promise.all(
      blocks.map(async (b) => {
        const args = b.path === 'crm-env' ? [] : b.path.split(' ');
        const { stdout } = await run(process.execPath, [bin, ...args, '--help'], {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        });
        return { path: b.path, text: stdout.trimEnd() };
      }),
    );
    expect(printed).toEqual(blocks);
  });

  it('every command, and the command overview, has a usage block', () => {
    const documented = new Set(documentedCommands(scriptsDoc));
    expect(documented.has('crm-env')).toBe(true);
    for (const { path: p } of leafCommands(buildProgram()))
      expect(documented.has(p), `crm-env ${p}`).toBe(true);
  });

  it('every npm script the spec names exists, and those that run crm-env name a real command', () => {
    const spec = [
      'dev:sync:push',
      'dev:users:create',
      'dev:reset',
      'dev:verify',
      'migrate:backup',
      'migrate:deploy',
      'migrate:validate',
      'validate:pre-migration',
      'migration:validate',
      'migration:backup',
      'supabase:deploy',
      'supabase:local:start',
      'supabase:local:stop',
      'supabase:local:status',
    ];
    for (const s of spec) expect(pkg.scripts, s).toHaveProperty(s);
    const program = buildProgram();
    for (const [name, script] of Object.entries(pkg.scripts)) {
      const m = /^node bin\/crm-env\.js (.+)$/.exec(script);
      if (!m) continue;
      const words = m[1]!.split(' ').filter((w) => !w.startsWith('-'));
      expect(namesCommand(program, words), `npm run ${name}`).toBe(true);
    }
    for (const [p, script] of Object.entries(NPM_SCRIPTS))
      expect(pkg.scripts[script], p).toBe(`node bin/crm-env.js ${p}`);
  });

  it('every `npm run X`, `npm test` and `crm-env X` in README and docs exists', () => {
    const program = buildProgram();
    let mentions = 0;
    for (const f of DOCS) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\bnpm (?:run ([a-z][a-z0-9:-]*)|(test)\b)/g)) {
        mentions += 1;
        expect(pkg.scripts, `${f}: npm ${m[0]}`).toHaveProperty(m[1] ?? m[2]!);
      }
      // Commands as typed: `crm-env …`, npx crm-env …, $ crm-env …, node bin/crm-env.js …
      for (const m of text.matchAll(/(?:`|\bnpx |\$ |node bin\/)crm-env(?:\.js)?((?: [a-z][a-z-]*)+)/g)) {
        mentions += 1;
        const words = m[1]!.trim().split(' ');
        expect(namesCommand(program, words), `${f}: crm-env ${words.join(' ')}`).toBe(true);
      }
    }
    expect(mentions).toBeGreaterThan(20);
  });

  it('namesCommand accepts commands and their arguments and rejects anything else', () => {
    const program = buildProgram();
    expect(namesCommand(program, ['sync', 'push'])).toBe(true);
    expect(namesCommand(program, ['restore', 'backups'])).toBe(true);
    expect(namesCommand(program, ['stack'])).toBe(true);
    expect(namesCommand(program, ['sync', 'pull'])).toBe(false);
    expect(namesCommand(program, ['push'])).toBe(false);
    expect(namesCommand(program, [])).toBe(false);
  });
});
