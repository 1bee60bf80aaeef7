/**
 * The project's error hierarchy. The CLI maps these to exit codes in one place (src/cli/run.ts):
 * - {@link UsageError}, {@link ConfigError}: exit 2 — bad usage or configuration, nothing was changed.
 * - {@link OperationError}, {@link MismatchError}: exit 1 — the operation failed or found a difference.
 * Anything else is a bug and also exits 1, with its stack.
 */
export abstract class CrmEnvError extends Error {
  abstract readonly exitCode: 1 | 2;
  /** Extra lines printed after the one-sentence message (hints, backup paths). */
  readonly details: readonly string[];

  constructor(message: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details ?? [];
  }
}

/** Wrong flags, arguments or a missing confirmation. Nothing was changed. */
export class UsageError extends CrmEnvError {
  readonly exitCode = 2;
}

/** Bad or missing configuration (URLs, binaries, environment). Nothing was changed. */
export class ConfigError extends CrmEnvError {
  readonly exitCode = 2;
}

/** The operation ran and failed (server error, lost connection, lock held, precondition not met). */
export class OperationError extends CrmEnvError {
  readonly exitCode = 1;
}

/** A comparison found differences (verify, checks). */
export class MismatchError extends CrmEnvError {
  readonly exitCode = 1;
}

/** An error that was already reported to the user; the CLI only sets the exit code. */
export class ReportedError extends CrmEnvError {
  readonly exitCode: 1 | 2;
  constructor(exitCode: 1 | 2) {
    super('already reported');
    this.exitCode = exitCode;
  }
}

/**
 * Ctrl-C (SIGINT) or SIGTERM stopped a command before its next change. Exit 1; the message says what
 * was done and what was not.
 */
export class InterruptedError extends OperationError {}
