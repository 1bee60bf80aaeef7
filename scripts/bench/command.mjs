/**
 * Times a whole crm-env CLI process as a user experiences it (Node start-up, config, work, exit):
 * one warm-up run, then `runs` timed runs; prints each and the median against a goal.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'crm-env.js');

export function fail(message) {
  console.error(`❌ ${message}`);
  process.exit(1);
}

export function requireBuild() {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')))
    fail('dist/ is missing: run `npm run build` first.');
}

const fmt = (ms) => `${(ms / 1000).toFixed(3)} s`;

/** Runs `crm-env <args>` `runs` times after a warm-up; returns the median in ms. */
export function benchCommand({ title, args, goalMs, limitMs, runs = 5 }) {
  const once = () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: process.env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    const ms = performance.now() - t0;
    if (r.error) fail(`could not run the CLI: ${r.error.message}`);
    if (r.status !== 0) fail(`${args.join(' ')} exited ${r.status}:\n${r.stderr || r.stdout}`);
    return ms;
  };
  console.log(`Benchmark: ${title}`);
  console.log(`warm-up   ${fmt(once())}`);
  const times = [];
  for (let i = 1; i <= runs; i++) {
    const ms = once();
    times.push(ms);
    console.log(`run ${i}/${runs}   ${fmt(ms)}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`min ${fmt(sorted[0])}  median ${fmt(median)}  max ${fmt(sorted[sorted.length - 1])}`);
  if (median < goalMs) console.log(`✅ median below the ${fmt(goalMs)} goal`);
  else if (median < limitMs)
    console.log(`⚠️  median above the ${fmt(goalMs)} goal (within the spec's ${limitMs / 1000} s)`);
  else fail(`median above the spec's ${limitMs / 1000} s limit`);
  return median;
}

/** A TCP port that is free right now on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
