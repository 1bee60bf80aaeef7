/**
 * The one place that turns errors into exit codes: 0 success, 1 failed or mismatch, 2 bad usage or
 * configuration (nothing was changed). Messages are redacted before they are printed. In `--json` mode
 * it also prints the run's one JSON document, on success and on failure alike.
 */
import path from 'node:path';
import { CommanderError } from 'commander';
import { CrmEnvError, ReportedError } from '../errors.js';
import { shownPath, wholeMs } from '../format.js';
import { redactText } from '../redact.js';
import type { CliSession } from './context.js';

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

/** The text an error prints as (stderr), redacted; empty for errors already reported. */
export function formatError(err: unknown, secrets: readonly string[] = []): string {
  if (err instanceof ReportedError || err instanceof CommanderError) return ''; // commander printed its own.
  if (err instanceof CrmEnvError) {
    const details = err.details
      .filter(Boolean)
      .map((d) => `   ${redactText(d, secrets).replace(/\n/g, '\n   ')}\n`);
    return `❌ ${redactText(err.message, secrets)}\n${details.join('')}`;
  }
  const server = serverError(err);
  if (server !== null) return `❌ ${redactText(server, secrets)}\n`;
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `❌ Unexpected error (a bug in crm-env; please report it):\n${redactText(text, secrets)}\n`;
}

/** Prints an error the way users see it and returns the exit code. */
export function reportError(err: unknown, secrets: readonly string[] = []): number {
  process.stderr.write(formatError(err, secrets));
  return exitCodeFor(err);
}

/** The one-sentence error of a failed run, for JSON. */
function errorText(err: unknown): { error: string; details?: readonly string[] } {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.help') return { error: 'A subcommand is needed (see --help).' };
    return { error: err.message.replace(/^error: /, '') };
  }
  if (err instanceof CrmEnvError) return { error: err.message, details: err.details.filter(Boolean) };
  return { error: err instanceof Error ? err.message : String(err) };
}

/** An `error` the command recorded in its result (a failed deploy's report has one). */
function recordedError(result: object | null): string | undefined {
  const error = (result as { error?: unknown } | null)?.error;
  return typeof error === 'string' ? error : undefined;
}

const DURATION_KEY = /^ms$|Ms$/;
const PATH_KEY = /^(file|path|dir)$|(File|Path|Dir)$/;

/**
 * The run's JSON document: the command's recorded result, then `ok`, `exitCode`, `command` and `error`
 * (null on success). Every duration (`ms`, `…Ms`) is whole milliseconds and every absolute path
 * (`file`, `…File`, `…Dir`, `path`) is shown relative to the project, as in human output.
 */
export function jsonDocument(session: CliSession, exitCode: number, err?: unknown): string {
  const failure = err === undefined ? null : errorText(err);
  const {
    ok: _ok,
    exitCode: _code,
    command: _command,
    error: _error,
    ...result
  } = (session.result ?? {}) as Record<string, unknown>;
  const doc = {
    ok: exitCode === 0,
    exitCode,
    command: session.command,
    error: failure?.error ?? recordedError(session.result) ?? null,
    ...(failure?.details?.length ? { details: failure.details } : {}),
    ...result,
  };
  const projectDir = session.projectDir;
  const text = JSON.stringify(
    doc,
    (key, value: unknown) => {
      if (typeof value === 'number' && DURATION_KEY.test(key)) return wholeMs(value);
      if (typeof value === 'string' && projectDir && PATH_KEY.test(key) && path.isAbsolute(value))
        return shownPath(projectDir, value);
      return value;
    },
    2,
  );
  return redactText(text, session.secrets);
}

/** Ends a run: in JSON mode prints the document; returns the exit code. */
export function finishRun(session: CliSession, exitCode: number, err?: unknown): number {
  if (session.json) process.stdout.write(`${jsonDocument(session, exitCode, err)}\n`);
  return exitCode;
}
