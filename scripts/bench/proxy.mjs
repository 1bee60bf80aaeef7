/**
 * A TCP proxy that adds latency, to put the bench's "cloud" at a realistic network distance: every
 * chunk is forwarded `delayMs` after it arrived, in arrival order, in each direction separately
 * (10 ms each way = 20 ms round trip). Bandwidth is not limited; backpressure is kept (a slow reader
 * pauses the sender), so memory stays bounded by what is in flight.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';

/**
 * Forwards `from` → `to`, each chunk `delayMs` late. One timer per direction drains a FIFO queue, so
 * order is preserved even when several chunks fall due in the same millisecond.
 */
function forwardDelayed(from, to, delayMs) {
  /** @type {{ due: number, chunk: Buffer | null }[]} chunk null = end of stream */
  let queue = [];
  let head = 0;
  let timer = null;
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
      } else if (!to.write(chunk)) {
        // Keep writing what is already in flight; stop reading new data until the reader catches up.
        if (!from.isPaused()) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      }
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    schedule();
  };
  from.on('data', (chunk) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    schedule();
  });
  from.on('end', () => {
    queue.push({ due: performance.now() + delayMs, chunk: null });
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
 * Starts the proxy on 127.0.0.1 (a free port) in front of `target`. `delayMs` is the ONE-WAY delay.
 * Returns `{ port, close() }`.
 */
export async function startDelayProxy({ targetHost = '127.0.0.1', targetPort, delayMs }) {
  const open = new Set();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true });
    open.add(client);
    open.add(upstream);
    const stopUp = forwardDelayed(client, upstream, delayMs);
    const stopDown = forwardDelayed(upstream, client, delayMs);
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
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
