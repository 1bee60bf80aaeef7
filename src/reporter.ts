/**
 * How library code reports progress without printing: the CLI passes a reporter in; tests pass
 * {@link silentReporter} or a recording one.
 */
export interface Reporter {
  /** A numbered or named step starting ("Backing up cloud database..."). */
  step(message: string): void;
  /** A detail line under the current step ("✓ Backup created: …"). */
  info(message: string): void;
  warn(message: string): void;
  /** Progress within a step; shown on a TTY only. */
  progress(label: string, done: number, total: number): void;
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
