/**
 * Terminal output. Human lines go to stdout; progress redraws one line on a TTY (stderr) and is
 * silent otherwise; `--json` mode prints only the final JSON document on stdout (src/cli/run.ts prints
 * it, once, on success and on failure).
 */
import type { Reporter } from '../reporter.js';
import { redactText } from '../redact.js';

export interface Output extends Reporter {
  /** A plain line for humans (suppressed in JSON mode). */
  line(message?: string): void;
  /**
   * Records the command's machine-readable result. Printed once at the end in JSON mode, with `ok`,
   * `exitCode` and `error` added (also when the command fails after recording it).
   */
  json(value: object): void;
  readonly jsonMode: boolean;
}

export function createOutput(
  options: {
    json?: boolean;
    secrets?: readonly string[];
    onResult?: (value: object) => void;
  } = {},
): Output {
  const jsonMode = options.json ?? false;
  const secrets = options.secrets ?? [];
  const tty = Boolean(process.stderr.isTTY) && !jsonMode;
  let progressShown = false;
  const clearProgress = (): void => {
    if (progressShown) {
      process.stderr.write('\r\x1b[2K');
      progressShown = false;
    }
  };
  const say = (text: string): void => {
    if (jsonMode) return;
    clearProgress();
    process.stdout.write(`${redactText(text, secrets)}\n`);
  };
  return {
    jsonMode,
    line: (m = '') => say(m),
    step: (m) => say(`\n${m}`),
    info: (m) => say(`   ${m}`),
    warn: (m) => {
      clearProgress();
      process.stderr.write(`⚠️  ${redactText(m, secrets)}\n`);
    },
    progress: (label, done, total) => {
      if (!tty) return;
      process.stderr.write(`\r\x1b[2K   ${label} ${done}/${total}`);
      progressShown = done < total;
      if (!progressShown) process.stderr.write('\r\x1b[2K');
    },
    json: (value) => options.onResult?.(value),
  };
}
