/**
 * Confirmation, as the library sees it: it never touches the terminal. The CLI passes a
 * {@link Confirmer} (src/cli/prompt.ts) that asks on a terminal, or answers yes for `--yes`.
 */
import { UsageError } from './errors.js';

export interface ConfirmRequest {
  /** The question, one line. */
  readonly message: string;
  /** When set, the user must type this word (RESET, restore) instead of answering y/N. */
  readonly word?: string;
}

export interface Confirmer {
  /** False when nobody can be asked (no terminal, `--json`) and nothing was approved in advance. */
  readonly canConfirm: boolean;
  ask(request: ConfirmRequest): Promise<boolean>;
}

/** Approved in advance (`--yes`, or a caller that already asked). */
export const approved: Confirmer = { canConfirm: true, ask: async () => true };

/** Nobody to ask: every destructive step is refused. The default of every library function. */
export const noConfirmation: Confirmer = { canConfirm: false, ask: async () => false };

/**
 * Refuses early (exit 2, before connecting to anything) when `confirmer` cannot confirm. `what`
 * names the action ("Reset", "Deploying to the cloud database").
 */
export function assertCanConfirm(confirmer: Confirmer, what: string): void {
  if (!confirmer.canConfirm) {
    throw new UsageError(
      `${what} needs confirmation: run it in a terminal, or pass --yes. Nothing was changed.`,
    );
  }
}

/** Asks; a "no" (or nobody to ask) is a {@link UsageError}: exit 2, nothing was changed. */
export async function confirmOrStop(
  confirmer: Confirmer,
  what: string,
  request: ConfirmRequest,
): Promise<void> {
  assertCanConfirm(confirmer, what);
  if (!(await confirmer.ask(request))) throw new UsageError(`${what} cancelled; nothing was changed.`);
}
