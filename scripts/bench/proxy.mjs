/**
 * A TCP proxy that puts the bench's "cloud" at a realistic network distance and counts what crosses
 * it: every chunk is forwarded `delayMs` after it arrived (10 ms each way = 20 ms round trip), and with
 * `mbitPerS` each direction is also a link of that bandwidth (a chunk waits for the link to be free,
 * takes size/bandwidth to cross, then the delay). Order is kept per direction; backpressure is kept (a
 * slow reader or a full link pauses the sender), so memory stays bounded by what is in flight.
 *
 * Counters (`stats()`, `reset()`): connections, bytes each way, and round trips: a round trip is
 * counted each time, on one connection, the server answers after the client has sent something since
 * the server's last answer (a query and its result, a COPY and its completion, each step of the
 * authentication exchange). With `delayMs` 0 and no bandwidth it only counts. With `trace` (an array)
 * it also collects one line per round trip: the connection number and the first bytes the client sent
 * (to see which statements cost them).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';

/** Bytes queued in one direction before the proxy stops reading from the sender. */
const MAX_QUEUED = 4 * 1024 * 1024;

/**
 * Forwards `from` → `to`, each chunk `delayMs` late and, with `bytesPerMs`, no faster than the link.
 * One timer per direction drains a FIFO queue, so order is preserved. `onChunk(bytes)` sees each chunk.
 */
function forwardDelayed(from, to, delayMs, bytesPerMs, onChunk) {
  /** @type {{ due: number, chunk: Buffer | null }[]} chunk null = end of stream */
  let queue = [];
  let head = 0;
  let timer = null;
  let queued = 0;
  let linkFree = 0;
  let waitingDrain = false;
  const flow = () => {
    const stop = waitingDrain || queued > MAX_QUEUED;
    if (stop && !from.isPaused()) from.pause();
    else if (!stop && from.isPaused()) from.resume();
  };
  const schedule = () => {
    if (timer !== null || head >= queue.length) return;
    // Timers have 1 ms resolution and truncate fractions: round up so they never fire early.
    const wait = Math.max(1, Math.ceil(queue[head].due - performance.now()));
    timer = setTimeout(drain, wait);
  };
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (head < queue.length && queue[head].due <= now + 0.05) {
      const { chunk } = queue[head++];
      if (to.destroyed) continue;
      if (chunk === null) {
        to.end();
        continue;
      }
      queued -= chunk.length;
      if (!to.write(chunk) && !waitingDrain) {
        // Keep writing what is already in flight; stop reading new data until the reader catches up.
        waitingDrain = true;
        to.once('drain', () => {
          waitingDrain = false;
          flow();
        });
      }
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    flow();
    schedule();
  };
  const due = (bytes) => {
    const now = performance.now();
    if (!bytesPerMs) return now + delayMs;
    linkFree = Math.max(linkFree, now) + bytes / bytesPerMs;
    return linkFree + delayMs;
  };
  from.on('data', (chunk) => {
    onChunk(chunk.length, chunk);
    if (delayMs === 0 && !bytesPerMs && head >= queue.length) {
      if (!to.destroyed && !to.write(chunk) && !waitingDrain) {
        waitingDrain = true;
        to.once('drain', () => {
          waitingDrain = false;
          flow();
        });
        flow();
      }
      return;
    }
    queued += chunk.length;
    queue.push({ due: due(chunk.length), chunk });
    flow();
    schedule();
  });
  from.on('end', () => {
    queue.push({ due: due(0), chunk: null });
    schedule();
  });
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    queue = [];
    head = 0;
  };
}

/**
 * Starts the proxy on 127.0.0.1 (a free port) in front of `target`. `delayMs` is the ONE-WAY delay;
 * `mbitPerS` (optional) the bandwidth of each direction. Returns `{ port, stats(), reset(), close() }`.
 */
export async function startDelayProxy({
  targetHost = '127.0.0.1',
  targetPort,
  delayMs,
  mbitPerS = 0,
  trace = null,
}) {
  const open = new Set();
  const bytesPerMs = mbitPerS > 0 ? (mbitPerS * 1e6) / 8 / 1000 : 0;
  const counters = { connections: 0, bytesToServer: 0, bytesToClient: 0, roundTrips: 0 };
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true });
    open.add(client);
    open.add(upstream);
    counters.connections++;
    // A round trip: the server speaks after the client has spoken since the server last did.
    let clientSpoke = false;
    let said = '';
    const conn = counters.connections;
    const stopUp = forwardDelayed(client, upstream, delayMs, bytesPerMs, (n, chunk) => {
      counters.bytesToServer += n;
      if (trace && !clientSpoke)
        said = chunk
          .subarray(0, 100)
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, '.');
      clientSpoke = true;
    });
    const stopDown = forwardDelayed(upstream, client, delayMs, bytesPerMs, (n) => {
      counters.bytesToClient += n;
      if (clientSpoke) {
        counters.roundTrips++;
        trace?.push(`#${conn} ${said}`);
      }
      clientSpoke = false;
    });
    const kill = () => {
      stopUp();
      stopDown();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    let closed = 0;
    const onClose = () => {
      open.delete(client);
      open.delete(upstream);
      if (++closed === 1) {
        // One side is gone for good; let the other finish what is still in flight, then drop it.
        setTimeout(kill, delayMs + 50).unref();
      }
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    trace,
    stats: () => ({ ...counters }),
    reset: () => {
      counters.connections = 0;
      counters.bytesToServer = 0;
      counters.bytesToClient = 0;
      counters.roundTrips = 0;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
