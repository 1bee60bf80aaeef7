/**
 * Interrupts as the library sees them: an AbortSignal passed down through every phase of a writing
 * command. Aborting ends the phase's connections (the server rolls back what was open) and kills any
 * child process (pg_dump); between phases, {@link stopIfInterrupted} turns the abort into one clear
 * {@link InterruptedError} that says what was and was not done.
 */
import net from 'node:net';
import path from 'node:path';
import type { Client } from './db/connect.js';
import { InterruptedError } from './errors.js';

/** The protocol's CancelRequest code (PostgreSQL frontend/backend protocol, "CancelRequest"). */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks the server to cancel what `client`'s backend is running, on a connection of its own (the
 * protocol's CancelRequest; no authentication). Without it, a backend waiting for a lock would only
 * notice its client is gone once the lock is granted, holding its own locks until then. Best effort.
 */
export function sendCancel(client: Client): void {
  const c = client as unknown as { processID?: number; secretKey?: number; host?: string; port?: number };
  if (!c.processID || typeof c.secretKey !== 'number' || !c.host || !c.port) return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(c.processID, 8);
  packet.writeInt32BE(c.secretKey, 12);
  const socket = c.host.startsWith('/')
    ? net.connect(path.join(c.host, `.s.PGSQL.${c.port}`))
    : net.connect(c.port, c.host);
  socket.on('error', () => undefined);
  socket.setTimeout(5_000, () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
}

/**
 * Cancels what `clients` run and ends them as soon as `signal` aborts (at once when it already has):
 * the servers roll back whatever was open. Returns the undo.
 */
export function endOnAbort(signal: AbortSignal | undefined, clients: readonly Client[]): () => void {
  if (!signal) return () => undefined;
  const end = (): void => {
    for (const c of clients) {
      sendCancel(c);
      void c.end().catch(() => undefined);
    }
  };
  if (signal.aborted) {
    end();
    return () => undefined;
  }
  signal.addEventListener('abort', end, { once: true });
  return () => signal.removeEventListener('abort', end);
}

/** Throws {@link InterruptedError} with `message` when `signal` has aborted. */
export function stopIfInterrupted(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw new InterruptedError(message);
}

/**
 * Runs one phase; when the signal aborted during it, whatever error the phase ended with (a closed
 * connection, a killed pg_dump) becomes an {@link InterruptedError} with `message`.
 */
export async function interruptible<T>(
  signal: AbortSignal | undefined,
  message: string,
  phase: () => Promise<T>,
): Promise<T> {
  stopIfInterrupted(signal, message);
  try {
    return await phase();
  } catch (err) {
    if (signal?.aborted && !(err instanceof InterruptedError))
      throw new InterruptedError(message, { cause: err });
    throw err;
  }
}
