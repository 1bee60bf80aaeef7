/**
 * Waiting on observable state (a row in pg_locks or pg_stat_activity, a settled promise), never on
 * time: `probe` is asked again and again until it finds what it looks for. The test's own timeout is
 * the only deadline.
 */
import { setTimeout as pause } from 'node:timers/promises';

/**
 * Resolves with the first value `probe` returns that is not undefined. Rejects as soon as `gone()`
 * says the state can no longer appear (e.g. the operation being watched has already finished).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  gone: () => boolean = () => false,
): Promise<T> {
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (gone()) throw new Error(`never saw ${what}: the operation finished first`);
    await pause(10); // between polls only; nothing depends on how long this is
  }
}

/** A promise plus whether it has settled, for {@link waitFor}'s `gone`. */
export function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const p = promise.finally(() => {
    settled = true;
  });
  p.catch(() => undefined);
  return { promise: p, settled: () => settled };
}
