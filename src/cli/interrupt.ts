/**
 * Ctrl-C for the commands that write: the first SIGINT (or SIGTERM) aborts the signal the library
 * runs under, which stops the command before its next change (open transactions roll back, pg_dump is
 * killed, a waiting statement is cancelled on the server) and ends it with exit 1 and a sentence
 * saying what was and was not done. A second one quits at once (the servers roll back what was open).
 */
import { NonTestDataError } from '../dev/non-test-data.js';
import type { Output } from './output.js';

export async function withInterrupts<T>(out: Output, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(1);
    if (process.stderr.isTTY)
      out.warn('Interrupted: stopping before the next change (Ctrl-C again quits at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } catch (err) {
    // A refusal to remove other people's rows: the --json document lists them.
    if (err instanceof NonTestDataError) out.json({ nonTestData: err.reports });
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
