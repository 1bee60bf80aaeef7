/**
 * Terminal output. Human lines go to stdout; progress redraws one line on a TTY (stderr), ends each
 * finished piece of work with a summary line there, and is silent otherwise; `--json` mode prints
 * only the final JSON document on stdout (src/cli/run.ts prints it, once, on success and on failure).
 */
import { performance } from 'node:perf_hooks';
import type { Progress, Reporter } from '../reporter.js';
import { redactText } from '../redact.js';
import type { ProgressSample } from './progress.js';
import { progressLine, progressRates, progressSummary } from './progress.js';

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

/** Redraws at most this often; a new label or note, the end and the summary draw at once. */
const REDRAW_MS = 100;
/** The live rate covers the last 5–10 s, so the ETA follows a load that slows down or speeds up. */
const RATE_WINDOW_MS = 5_000;

interface Drawing {
  readonly label: string;
  readonly first: ProgressSample;
  /** Start of the live rate's window, and the sample that will start the next one. */
  anchor: ProgressSample;
  next: ProgressSample;
  note: string | undefined;
  drawnAt: number;
}

/** Draws {@link Progress} reports on `stream` (a TTY): one line redrawn in place, then a summary. */
function progressRenderer(stream: NodeJS.WriteStream, now: () => number = () => performance.now()) {
  let current: Drawing | undefined;
  let shown = false;
  const clear = (): void => {
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
  const render = (p: Progress): void => {
    const sample = { at: now(), done: p.done, bytes: p.bytes ?? 0 };
    const fresh = current?.label !== p.label;
    if (!current || fresh) {
      current = {
        label: p.label,
        first: sample,
        anchor: sample,
        next: sample,
        note: undefined,
        drawnAt: -Infinity,
      };
    } else if (sample.at - current.next.at >= RATE_WINDOW_MS) {
      current.anchor = current.next;
      current.next = sample;
    }
    const renote = p.note !== current.note;
    current.note = p.note;
    if (p.final) {
      clear();
      stream.write(`   ${progressSummary(p, progressRates(current.first, sample, p.total))}\n`);
      current = undefined;
    } else if (p.total !== undefined && p.done >= p.total && p.note === undefined) {
      clear();
    } else if (fresh || renote || sample.at - current.drawnAt >= REDRAW_MS) {
      stream.write(`\r\x1b[2K   ${progressLine(p, progressRates(current.anchor, sample, p.total))}`);
      shown = true;
      current.drawnAt = sample.at;
    }
  };
  return { render, clear };
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
  const progress = progressRenderer(process.stderr);
  const say = (text: string): void => {
    if (jsonMode) return;
    progress.clear();
    process.stdout.write(`${redactText(text, secrets)}\n`);
  };
  return {
    jsonMode,
    line: (m = '') => say(m),
    step: (m) => say(`\n${m}`),
    info: (m) => say(`   ${m}`),
    warn: (m) => {
      progress.clear();
      process.stderr.write(`⚠️  ${redactText(m, secrets)}\n`);
    },
    progress: (p) => {
      if (tty) progress.render(p);
    },
    json: (value) => options.onResult?.(value),
  };
}
