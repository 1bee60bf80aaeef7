/**
 * How library code reports progress without printing: the CLI passes a reporter in; tests pass
 * {@link silentReporter} or a recording one.
 */

/** Where a long phase stands; see {@link Reporter.progress}. */
export interface Progress {
  /** What is being worked on: a table, a file, a step ("activities", "loading contacts"). */
  readonly label: string;
  /** Units done so far (rows unless {@link unit} says otherwise). */
  readonly done: number;
  /** Units in all, when known: the renderer then shows an ETA. */
  readonly total?: number;
  /** Bytes moved so far, when the phase moves data. */
  readonly bytes?: number;
  /** What `done` counts: 'rows' (default), 'files', 'tables'. */
  readonly unit?: string;
  /** What is happening now when the numbers do not move ("all rows sent; the server is finishing"). */
  readonly note?: string;
  /** Set on the last report for this label: the renderer ends it with one summary line. */
  readonly final?: boolean;
}

export interface Reporter {
  /** A numbered or named step starting ("Backing up cloud database..."). */
  step(message: string): void;
  /** A detail line under the current step ("✓ Backup created: …"). */
  info(message: string): void;
  warn(message: string): void;
  /**
   * Progress within a step; shown on a TTY only. Report as often as convenient (the renderer
   * throttles), with the same label for the same piece of work.
   */
  progress(progress: Progress): void;
}

export const silentReporter: Reporter = {
  step: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  progress: () => undefined,
};

/** A reporter that records lines, for tests. */
export function recordingReporter(): Reporter & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    step: (m) => lines.push(m),
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    progress: () => undefined,
  };
}
