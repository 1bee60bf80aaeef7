#!/usr/bin/env node
/**
 * Benchmark of the seed generator alone (no database): the default volumes for the three test users,
 * exactly what `crm-env users create` generates, one warm-up and then 9 timed runs in this process.
 * Goal: median < 150 ms. (Timing lives here, not in the test suite, which must pass on a busy machine.)
 *
 *   npm run build && node scripts/bench-seed.mjs
 */
import { performance } from 'node:perf_hooks';
import { fail, requireBuild, ROOT } from './bench/command.mjs';

requireBuild();
const { loadConfig } = await import('../dist/config.js');
const { generateForConfig, testUserSpecs } = await import('../dist/dev/test-users.js');

const GOAL_MS = 150;
const RUNS = 9;
const config = loadConfig({ cwd: ROOT, env: process.env });
const specs = testUserSpecs(config);
const once = () => {
  const t0 = performance.now();
  const data = generateForConfig(config, specs);
  const ms = performance.now() - t0;
  return { ms, rows: [...data.tables.values()].reduce((n, rows) => n + rows.length, 0) };
};

const fmt = (ms) => `${ms.toFixed(1)} ms`;
const warm = once();
console.log(
  `Benchmark: seed data for ${specs.length} test users (${warm.rows} rows), SEED=${config.seed.seed}`,
);
console.log(`warm-up   ${fmt(warm.ms)}`);
const times = [];
for (let i = 1; i <= RUNS; i++) {
  const { ms } = once();
  times.push(ms);
  console.log(`run ${i}/${RUNS}   ${fmt(ms)}`);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`min ${fmt(times[0])}  median ${fmt(median)}  max ${fmt(times[times.length - 1])}`);
if (median < GOAL_MS) console.log(`✅ median below the ${GOAL_MS} ms goal`);
else fail(`median above the ${GOAL_MS} ms goal`);
