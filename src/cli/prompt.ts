/** Interactive confirmation: the CLI's side of src/confirm.ts. The only module that prompts. */
import type { Confirmer, ConfirmRequest } from '../confirm.js';
import { approved } from '../confirm.js';

async function ask(request: ConfirmRequest): Promise<boolean> {
  const { confirm, input } = await import('@inquirer/prompts');
  try {
    if (request.word === undefined) return await confirm({ message: request.message, default: false });
    const answer = await input({ message: `${request.message}\n  Type '${request.word}' to confirm:` });
    return answer.trim() === request.word;
  } catch (err) {
    // Ctrl-C at the prompt is a "no", not a crash.
    if ((err as Error).name === 'ExitPromptError') return false;
    throw err;
  }
}

/**
 * `--yes` approves in advance; otherwise the user is asked on a terminal; with no terminal (or in
 * `--json` mode) nobody can be asked, and the library refuses with exit 2.
 */
export function terminalConfirmer(options: { yes?: boolean; json?: boolean }): Confirmer {
  if (options.yes) return approved;
  const canConfirm = Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY) && !options.json;
  return { canConfirm, ask: async (request) => canConfirm && ask(request) };
}
