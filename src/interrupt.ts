/**
 * Interrupts as the library sees them: an AbortSignal passed down through every phase of a writing
 * command. Aborting ends the phase's connections (the server rolls back what was open) and kills any
 * child process (pg_dump); between phases, {@link stopIfInterrupted} turns the abort into one clear
 * {@link InterruptedError} that says what was and was not done.
 */
import type { Client } from './db/connect.js';
import { InterruptedError } from './errors.js';

/** Ends `clients` as soon as `signal` aborts (at once when it already has). Returns the undo. */
export function endOnAbort(signal: AbortSignal | undefined, clients: readonly Client[]): () => void {
  if (!signal) return () => undefined;
  const end = (): void => {
    for (const c of clients) void c.end().catch(() => undefined);
  };
  if (signal.aborted) {
    end();
    return () => undefined;
  }
  signal.addEventListener('abort', end, { once: true });
  return () => signal.removeEventListener('abort', end);
}

/** Throws {@link InterruptedError} with `message` when `signal` has aborted. */
export function stopIfInterrupted(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw new InterruptedError(message);
}

/**
 * Runs one phase; when the signal aborted during it, whatever error the phase ended with (a closed
 * connection, a killed pg_dump) becomes an {@link InterruptedError} with `message`.
 */
export async function interruptible<T>(
  signal: AbortSignal | undefined,
  message: string,
  phase: () => Promise<T>,
): Promise<T> {
  stopIfInterrupted(signal, message);
  try {
    return await phase();
  } catch (err) {
    if (signal?.aborted && !(err instanceof InterruptedError))
      throw new InterruptedError(message, { cause: err });
    throw err;
  }
}
