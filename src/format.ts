/**
 * How paths, sizes and durations are shown, in one place, so every command says them the same way.
 */
import path from 'node:path';

/** A path as the user should type it: relative to the project when inside it, else absolute. */
export function shownPath(projectDir: string, file: string): string {
  const rel = path.relative(projectDir, path.resolve(projectDir, file));
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(projectDir, file) : rel;
}

/** 512 B, 1.5 KB, 12.3 MB, 1.2 GB (binary units). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Seconds with two decimals, for human lines ("1.23 s"). */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Durations that may run long, for progress lines: 0.4 s, 45 s, 3 min 05 s, 2 h 07 min. */
export function formatDuration(ms: number): string {
  if (ms < 9950) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Durations in machine output: whole milliseconds. */
export function wholeMs(ms: number): number {
  return Math.round(ms);
}

/**
 * A number with thousands separators, as `toLocaleString('en-US')` writes the numbers crm-env shows
 * (1,234,567; 0.01), without loading the ICU locale data (~20 ms of every start-up).
 */
export function formatCount(n: number): string {
  const [whole, fraction] = String(Math.abs(n)).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}
