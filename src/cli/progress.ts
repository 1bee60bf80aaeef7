/**
 * Progress lines for a TTY: what {@link Progress} reports, with a rate and an ETA. The math and
 * the wording are pure (times come in as numbers), so they are tested without a clock;
 * ./output.ts decides when to draw.
 */
import { formatBytes, formatCount, formatDuration } from '../format.js';
import type { Progress } from '../reporter.js';

/** Where a piece of work stood at one moment (`at` in ms, any origin). */
export interface ProgressSample {
  readonly at: number;
  readonly done: number;
  readonly bytes: number;
}

export interface ProgressRates {
  readonly elapsedMs: number;
  /** Units per second since the first sample; undefined until time has passed and work was done. */
  readonly perSecond: number | undefined;
  readonly bytesPerSecond: number | undefined;
  /** Time left at the current rate; undefined without a total or a rate. */
  readonly etaMs: number | undefined;
}

/** Average rates between the first and the latest sample of one piece of work, and the time left. */
export function progressRates(first: ProgressSample, now: ProgressSample, total?: number): ProgressRates {
  const elapsedMs = Math.max(0, now.at - first.at);
  const seconds = elapsedMs / 1000;
  const units = now.done - first.done;
  const perSecond = seconds > 0 && units > 0 ? units / seconds : undefined;
  const bytesPerSecond =
    seconds > 0 && now.bytes > first.bytes ? (now.bytes - first.bytes) / seconds : undefined;
  const left = total === undefined ? undefined : Math.max(0, total - now.done);
  const etaMs =
    left === undefined ? undefined : left === 0 ? 0 : perSecond ? (left / perSecond) * 1000 : undefined;
  return { elapsedMs, perSecond, bytesPerSecond, etaMs };
}

const count = (n: number): string => formatCount(Math.round(n));

/** "activities 120,000/3,000,000 rows · 16.2 MB · 40,000 rows/s · ETA 1 min 12 s" */
export function progressLine(p: Progress, rates: ProgressRates): string {
  const unit = p.unit ?? 'rows';
  const parts = [`${p.label} ${count(p.done)}${p.total === undefined ? '' : `/${count(p.total)}`} ${unit}`];
  if (p.bytes !== undefined) parts.push(formatBytes(p.bytes));
  if (rates.perSecond !== undefined) parts.push(`${count(rates.perSecond)} ${unit}/s`);
  if (rates.etaMs !== undefined && rates.etaMs > 0 && p.note === undefined)
    parts.push(`ETA ${formatDuration(rates.etaMs)}`);
  if (p.note !== undefined) parts.push(p.note);
  return parts.join(' · ');
}

/** Below this, a rate says more about latency than about speed: summaries leave it out. */
const MIN_RATE_MS = 1000;

/** "✓ activities: 3,000,000 rows, 412.0 MB in 1 min 15 s (40,000 rows/s)" */
export function progressSummary(p: Progress, rates: ProgressRates): string {
  const unit = p.unit ?? 'rows';
  const size = p.bytes === undefined ? '' : `, ${formatBytes(p.bytes)}`;
  const rate =
    rates.perSecond === undefined || rates.elapsedMs < MIN_RATE_MS
      ? ''
      : ` (${count(rates.perSecond)} ${unit}/s)`;
  return `✓ ${p.label}: ${count(p.done)} ${unit}${size} in ${formatDuration(rates.elapsedMs)}${rate}`;
}
