#!/usr/bin/env node
/**
 * Benchmark of `crm-env users create`, measured as a user experiences it: the whole process
 * (`node bin/crm-env.js users create --target <url>`: Node start-up, config, data generation, one
 * transaction, exit), one warm-up run and then 5 timed runs. Starts nothing itself.
 *
 *   npm run build && node scripts/bench-users.mjs [database-url]
 *
 * Without an argument it uses the embedded stack's local database (LOCAL_DATABASE_URL in
 * .crm-env/stack.env, written by `npm run stack:up`). Goal: median < 1.5 s (the spec allows 30 s).
 * The target database is modified: its test users and their data are (re)created, as the command does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parse as parseDotenv } from 'dotenv';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'crm-env.js');
const RUNS = 5;
const GOAL_MS = 1500;
const LIMIT_MS = 30_000;

function fail(message) {
  console.error(`❌ ${message}`);
  process.exit(1);
}

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')))
  fail('dist/ is missing: run `npm run build` first.');
const { redactUrl } = await import('../dist/redact.js');
const { parseDatabaseUrl } = await import('../dist/config.js');

function defaultUrl() {
  const file = path.join(ROOT, '.crm-env', 'stack.env');
  if (!existsSync(file)) {
    fail(
      'No database URL given and no embedded stack found (.crm-env/stack.env): run `npm run stack:up` or pass a URL.',
    );
  }
  const url = parseDotenv(readFileSync(file)).LOCAL_DATABASE_URL;
  if (!url) fail(`${file} has no LOCAL_DATABASE_URL: run \`npm run stack:up\` again.`);
  return url;
}

const url = process.argv[2] ?? defaultUrl();
try {
  parseDatabaseUrl('The database URL', url);
} catch (err) {
  fail(err.message);
}

/** One whole `users create` process; returns its wall-clock duration in ms. */
function runOnce() {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'users', 'create', '--target', url], {
    cwd: ROOT,
    env: process.env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const ms = performance.now() - t0;
  if (r.error) fail(`could not run the CLI: ${r.error.message}`);
  if (r.status !== 0) fail(`users create exited ${r.status}:\n${r.stderr || r.stdout}`);
  return ms;
}

const fmt = (ms) => `${(ms / 1000).toFixed(3)} s`;

console.log(`Benchmark: node bin/crm-env.js users create --target ${redactUrl(url)}`);
console.log(`warm-up   ${fmt(runOnce())}`);
const times = [];
for (let i = 1; i <= RUNS; i++) {
  const ms = runOnce();
  times.push(ms);
  console.log(`run ${i}/${RUNS}   ${fmt(ms)}`);
}
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`min ${fmt(sorted[0])}  median ${fmt(median)}  max ${fmt(sorted[sorted.length - 1])}`);
if (median < GOAL_MS) console.log(`✅ median below the ${fmt(GOAL_MS)} goal`);
else if (median < LIMIT_MS)
  console.log(`⚠️  median above the ${fmt(GOAL_MS)} goal (within the spec's ${LIMIT_MS / 1000} s)`);
else fail(`median above the spec's ${LIMIT_MS / 1000} s limit`);
