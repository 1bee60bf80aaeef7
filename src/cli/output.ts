/**
 * Terminal output. Human lines go to stdout; progress redraws one line on a TTY (stderr) and is
 * silent otherwise; `--json` mode prints only the final JSON document on stdout.
 */
import type { Reporter } from '../reporter.js';
import { redactText } from '../redact.js';

export interface Output extends Reporter {
  /** A plain line for humans (suppressed in JSON mode). */
  line(message?: string): void;
  /** The machine-readable result (JSON mode only). */
  json(value: unknown): void;
  readonly jsonMode: boolean;
}

export function createOutput(options: { json?: boolean; secrets?: readonly string[] } = {}): Output {
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
    json: (value) => {
      if (jsonMode) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}
