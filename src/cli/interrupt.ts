/**
 * Ctrl-C for the commands that write: the first SIGINT (or SIGTERM) aborts the signal the library
 * runs under, which stops the command before its next change (open transactions roll back, pg_dump is
 * killed) and ends it with exit 1 and a sentence saying what was and was not done. A second one quits
 * at once (the servers roll back whatever was still open).
 */
import { NonTestDataError } from '../dev/non-test-data.js';
import { CrmEnvError } from '../errors.js';
import { redactText } from '../redact.js';
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
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The `--json` result of a failed command: `ok: false`, the message, and what was refused. */
export function printFailureJson(
  out: Output,
  err: unknown,
  secrets: readonly string[],
  extra: object = {},
): void {
  if (!out.jsonMode) return;
  out.json({
    ok: false,
    exitCode: err instanceof CrmEnvError ? err.exitCode : 1,
    error: redactText(err instanceof Error ? err.message : String(err), secrets),
    ...(err instanceof CrmEnvError && err.details.length > 0
      ? { details: err.details.map((d) => redactText(d, secrets)) }
      : {}),
    ...(err instanceof NonTestDataError ? { nonTestData: err.reports } : {}),
    ...extra,
  });
}
