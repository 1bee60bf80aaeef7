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

/** The text an error prints as (stderr), redacted; empty for errors already reported. */
export function formatError(err: unknown, secrets: readonly string[] = []): string {
  if (err instanceof ReportedError || err instanceof CommanderError) return ''; // commander printed its own.
  if (err instanceof CrmEnvError) {
    const details = err.details
      .filter(Boolean)
      .map((d) => `   ${redactText(d, secrets).replace(/\n/g, '\n   ')}\n`);
    return `❌ ${redactText(err.message, secrets)}\n${details.join('')}`;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `❌ Unexpected error (a bug in crm-env; please report it):\n${redactText(text, secrets)}\n`;
}

/** Prints an error the way users see it and returns the exit code. */
export function reportError(err: unknown, secrets: readonly string[] = []): number {
  process.stderr.write(formatError(err, secrets));
  return exitCodeFor(err);
}
