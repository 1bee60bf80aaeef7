/**
 * Facts a command read on a client along with other statements (one round trip for several), kept
 * per client so that the modules that would read them again ask no more. Opt-in: only a command that
 * calls {@link remember} gets them back, and only for facts that cannot change while it runs (catalog
 * it holds locks on, the server version).
 */
import type { Client } from './connect.js';

const memo = new WeakMap<Client, Map<string, unknown>>();

export function remember(client: Client, key: string, value: unknown): void {
  const m = memo.get(client) ?? new Map<string, unknown>();
  m.set(key, value);
  memo.set(client, m);
}

export function recalled<T>(client: Client, key: string): T | undefined {
  return memo.get(client)?.get(key) as T | undefined;
}
