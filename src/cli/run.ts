/**
 * The one place that turns errors into exit codes: 0 success, 1 failed or mismatch, 2 bad usage or
 * configuration (nothing was changed). Messages are redacted before they are printed.
 */
import { CommanderError } from 'commander';
import { CrmEnvError, ReportedError } from '../errors.js';
import { redactText } from '../redact.js';

export function exitCodeFor(err: unknown): number {
  if (err instanceof CrmEnvError) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  return 1;
}

/**
 * A PostgreSQL error that reached the top unexplained (e.g. a statement_timeout from the URL's
 * `options`) is the server's refusal, not a crash of crm-env: one sentence, exit 1.
 */
function serverError(err: unknown): string | null {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown };
  if (!(err instanceof Error) || typeof e.severity !== 'string' || typeof e.code !== 'string') return null;
  if (!/^[0-9A-Z]{5}$/.test(e.code)) return null;
  const hint =
    e.code === '57014'
      ? ' A statement_timeout (from options= in the URL, or the role’s settings) may be too short.'
      : '';
  return `The database stopped the command: ${err.message} (SQLSTATE ${e.code}).${hint}`;
}

/** Prints an error the way users see it and returns the exit code. */
export function reportError(err: unknown, secrets: readonly string[] = []): number {
  const code = exitCodeFor(err);
  if (err instanceof ReportedError) return code;
  if (err instanceof CommanderError) return code; // commander has printed its own message.
  if (err instanceof CrmEnvError) {
    process.stderr.write(`❌ ${redactText(err.message, secrets)}\n`);
    for (const d of err.details)
      if (d) process.stderr.write(`   ${redactText(d, secrets).replace(/\n/g, '\n   ')}\n`);
    return code;
  }
  const server = serverError(err);
  if (server !== null) {
    process.stderr.write(`❌ ${redactText(server, secrets)}\n`);
    return code;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(
    `❌ Unexpected error (a bug in crm-env; please report it):\n${redactText(text, secrets)}\n`,
  );
  return code;
}
