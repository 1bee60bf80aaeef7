/**
 * Keeps the usage sections of docs/scripts.md identical to `--help`: each block between
 * `<!-- usage: <command> -->` and `<!-- /usage -->` is the command's help text. `npm run docs`
 * rewrites them; a test fails when they differ.
 */
import type { Command } from 'commander';
import { buildProgram, leafCommands } from './program.js';

const BLOCK = /<!-- usage: ([a-z -]+) -->\n[\s\S]*?<!-- \/usage -->/g;

/** Exactly what `crm-env <path> --help` prints, text added around the help included. */
function helpFor(program: Command, path: string): string {
  const command = path === 'crm-env' ? program : leafCommands(program).find((c) => c.path === path)?.command;
  if (!command) throw new Error(`docs name an unknown command: crm-env ${path}`);
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s) });
  command.outputHelp();
  return text;
}

/** Returns `markdown` with every usage block regenerated from the CLI definition. */
export function renderUsageBlocks(markdown: string): string {
  const program = buildProgram();
  return markdown.replace(BLOCK, (_m, path: string) => {
    const help = helpFor(program, path.trim()).trimEnd();
    return `<!-- usage: ${path} -->\n\`\`\`text\n${help}\n\`\`\`\n<!-- /usage -->`;
  });
}

/** The commands whose usage the markdown documents. */
export function documentedCommands(markdown: string): string[] {
  return [...markdown.matchAll(BLOCK)].map((m) => m[1]!.trim());
}
