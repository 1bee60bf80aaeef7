/**
 * The rate and ETA behind the TTY progress lines: pure math on explicit timestamps (no clock).
 */
import { describe, expect, it } from 'vitest';
import { progressRates } from '../src/cli/progress.js';

describe('progressRates', () => {
  const start = { at: 1_000, done: 0, bytes: 0 };

  it('averages rows and bytes per second since the first sample and projects the time left', () => {
    const r = progressRates(start, { at: 5_000, done: 20_000, bytes: 4_000_000 }, 100_000);
    expect(r.elapsedMs).toBe(4_000);
    expect(r.perSecond).toBe(5_000);
    expect(r.bytesPerSecond).toBe(1_000_000);
    expect(r.etaMs).toBe(16_000);
  });

  it('counts from the first sample, not from zero', () => {
    const r = progressRates({ at: 0, done: 500, bytes: 100 }, { at: 2_000, done: 1_500, bytes: 300 }, 2_500);
    expect(r.perSecond).toBe(500);
    expect(r.bytesPerSecond).toBe(100);
    expect(r.etaMs).toBe(2_000);
  });

  it('has no rate before time passes or work is done, and no ETA without a total', () => {
    expect(progressRates(start, start, 10)).toMatchObject({ perSecond: undefined, etaMs: undefined });
    expect(progressRates(start, { at: 9_000, done: 0, bytes: 0 }, 10).perSecond).toBeUndefined();
    const noTotal = progressRates(start, { at: 3_000, done: 10, bytes: 0 });
    expect(noTotal.perSecond).toBe(5);
    expect(noTotal.etaMs).toBeUndefined();
    expect(noTotal.bytesPerSecond).toBeUndefined();
  });

  it('says zero time left once the total is reached (or passed)', () => {
    expect(progressRates(start, { at: 2_000, done: 10, bytes: 0 }, 10).etaMs).toBe(0);
    expect(progressRates(start, { at: 2_000, done: 12, bytes: 0 }, 10).etaMs).toBe(0);
  });
});
