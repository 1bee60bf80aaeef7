#!/usr/bin/env node
/**
 * `npm run bench`: how fast `crm-env sync push --force` is compared with the spec's shell route and
 * with the floor (a bare psql | psql pipe per table).
 *
 * Starts its own two PostgreSQL servers ("local" and "cloud", fsync on, free ports, in a temp folder),
 * gives both the Supabase base schema and the migrations, builds the typical data set (test users with
 * the step-3 defaults) and a scaled one (~1,000,000 rows), and times, median of several runs:
 *
 *   (a) push   `node bin/crm-env.js sync push --force --json` end to end; "transfer" = its transferMs
 *   (b) spec   the spec's sync-local-to-cloud.sh: pg_dump cloud + local, TRUNCATE, psql import, counts
 *   (c) floor  `psql \copy … to stdout | psql \copy … from stdin` per table into a truncated cloud
 *
 *   (a') push with its bulk path off (SYNC_BULK_MIN_ROWS=1e9), scaled set only: what the bulk path saves
 *
 * with the cloud reached directly, through a proxy adding 20 ms of round trip, and through one that
 * also limits each direction to 100 Mbit/s. The proxies count the bytes each route sends to and
 * receives from the cloud and the round trips it makes; at RTT 0 one extra, untimed run per route
 * goes through a counting proxy without delay. Then the two shapes of issue 16 (many small tables,
 * one wide table), one run each, in their own databases. Prints tables (with the load average) and
 * writes bench-results.json. Stops and deletes everything it started at the end, on error or Ctrl-C.
 *
 *   npm run bench
 *
 * Environment knobs: BENCH_ROWS (scaled set size, default 1000000; 0 skips it), BENCH_RUNS (typical,
 * default 5), BENCH_RUNS_LARGE (default 3), BENCH_RUNS_DELAY (default 5), BENCH_RUNS_BANDWIDTH
 * (default 3; 0 skips it), BENCH_RTT_MS (default 20), BENCH_MBIT (default 100), BENCH_LARGE_RTT=1
 * (also time the scaled set behind the proxy), BENCH_MANY_TABLES (default 200; 0 skips),
 * BENCH_MANY_ROWS (rows per small table, default 100), BENCH_WIDE_ROWS (default 300000; 0 skips),
 * BENCH_WIDE_BYTES (default 2048), BENCH_RUNS_SHAPES (default 1), PG_BIN (server binaries folder),
 * BENCH_TRACE=1 (print each round trip of every push through the delay proxy: connection, first bytes).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/config.js';
import { readTables } from '../dist/db/catalog.js';
import { withClient } from '../dist/db/connect.js';
import { createTestUsers } from '../dist/dev/test-users.js';
import { migrateUp } from '../dist/migration/runner.js';
import { applyBaseSchema } from '../dist/stack/base-schema.js';
import { findPgBinaries } from '../dist/stack/pg-binaries.js';
import {
  initCluster,
  preparePostgresRole,
  serverUrl,
  startServer,
  stopServer,
} from '../dist/stack/server.js';
import { addScaledData, scaledCounts } from './bench/datasets.mjs';
import { killAll, run } from './bench/proc.mjs';
import { startDelayProxy } from './bench/proxy.mjs';
import { passwordUrl, routeFloor, routePush, routeSpec } from './bench/routes.mjs';
import { freePort } from './bench/command.mjs';
import { buildShape } from './bench/shapes.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = path.join(ROOT, 'bench-results.json');

const int = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (got ${v})`);
  return n;
};
const OPTS = {
  rows: int('BENCH_ROWS', 1_000_000),
  runs: int('BENCH_RUNS', 5),
  runsLarge: int('BENCH_RUNS_LARGE', 3),
  runsDelay: int('BENCH_RUNS_DELAY', 5),
  rttMs: int('BENCH_RTT_MS', 20),
  runsBandwidth: int('BENCH_RUNS_BANDWIDTH', 3),
  mbit: int('BENCH_MBIT', 100),
  largeRtt: process.env.BENCH_LARGE_RTT === '1',
  trace: process.env.BENCH_TRACE === '1',
  manyTables: int('BENCH_MANY_TABLES', 200),
  manyRows: int('BENCH_MANY_ROWS', 100),
  wideRows: int('BENCH_WIDE_ROWS', 300_000),
  wideBytes: int('BENCH_WIDE_BYTES', 2048),
  runsShapes: int('BENCH_RUNS_SHAPES', 1),
};
/** The push with its bulk path off: no table reaches this many rows. */
const NO_BULK = { SYNC_BULK_MIN_ROWS: '1000000000' };

// ---------------------------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------------------------

const benchStart = performance.now();
const elapsed = () => `${((performance.now() - benchStart) / 1000).toFixed(0)} s`;
const log = (m = '') => console.log(m);

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const fmtS = (s) => (s === null || s === undefined ? '—' : s.toFixed(s < 10 ? 3 : 2));
const fmtR = (r) => (r === null || r === undefined ? '—' : `${r.toFixed(2)}×`);
const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);

// ---------------------------------------------------------------------------------------------
// servers and cleanup
// ---------------------------------------------------------------------------------------------

const tempRoot = mkdtempSync(path.join(os.tmpdir(), 'crm-env-bench-'));
// The servers run as the `postgres` OS user when we are root: it must be able to enter this folder.
chmodSync(tempRoot, 0o755);
const specs = [];
let proxy = null;
let bandwidthProxy = null;
let countProxy = null;
let cleaning = null;

function cleanup() {
  cleaning ??= (async () => {
    killAll();
    for (const p of [proxy, bandwidthProxy, countProxy]) if (p) await p.close().catch(() => undefined);
    await Promise.allSettled(specs.map((s) => stopServer(s)));
    rmSync(tempRoot, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping the bench servers and deleting ${tempRoot}...`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function startServers(binDir) {
  for (const name of ['local', 'cloud']) {
    specs.push({
      name,
      binDir,
      dataDir: path.join(tempRoot, name, 'data'),
      port: await freePort(),
      password: randomBytes(12).toString('hex'),
      // fsync stays on (realistic); only the data folder is temporary.
    });
  }
  await Promise.all(
    specs.map(async (spec) => {
      await initCluster(spec);
      await startServer(spec);
      await preparePostgresRole(spec);
      await applyBaseSchema(serverUrl(spec, 'postgres', 'supabase_admin'));
      await migrateUp(serverUrl(spec), path.join(ROOT, 'supabase', 'migrations'));
    }),
  );
  return specs;
}

// ---------------------------------------------------------------------------------------------
// database chores (untimed)
// ---------------------------------------------------------------------------------------------

async function rowCounts(spec, tables, db = 'postgres') {
  return withClient(serverUrl(spec, db), async (c) => {
    const out = {};
    for (const t of tables) {
      const { rows } = await c.query(`select count(*)::bigint as n from ${t.qualified}`);
      out[t.name] = Number(rows[0].n);
    }
    return out;
  });
}

async function assertCloudEqualsLocal(ctx, what) {
  const [l, c] = await Promise.all([
    rowCounts(ctx.localSpec, ctx.tables, ctx.db),
    rowCounts(ctx.cloudSpec, ctx.tables, ctx.db),
  ]);
  const bad = ctx.tables.filter((t) => l[t.name] !== c[t.name]);
  if (bad.length > 0) {
    throw new Error(
      `after ${what} the cloud does not hold local's data: ${bad.map((t) => `${t.name} ${l[t.name]}≠${c[t.name]}`).join(', ')}`,
    );
  }
}

/** Same start for every run: cloud vacuumed (as autovacuum would leave it), both servers checkpointed. */
async function settle(ctx, { truncateCloud = false } = {}) {
  rmSync(ctx.backupDir, { recursive: true, force: true });
  rmSync(path.join(ctx.projectDir, 'spec-sync'), { recursive: true, force: true });
  const list = ctx.tables.map((t) => t.qualified).join(', ');
  await withClient(serverUrl(ctx.cloudSpec, ctx.db), async (c) => {
    if (truncateCloud) await c.query(`truncate table ${list}`);
    else await c.query(`vacuum ${list}`);
  });
  await Promise.all(
    [ctx.localSpec, ctx.cloudSpec].map((s) =>
      withClient(serverUrl(s, 'postgres', 'supabase_admin'), (c) => c.query('checkpoint')),
    ),
  );
}

/**
 * How busy the machine is: 1-minute load average and Linux CPU pressure (share of the last 10 s in
 * which some task waited for a CPU). The bench alone keeps about 2–3 tasks busy; more means other
 * work competes for the CPUs and the seconds are inflated.
 */
function cpuLoad() {
  let pressure = null;
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) pressure = Number(m[1]);
  } catch {
    // not Linux, or no PSI
  }
  return { load1: Number(os.loadavg()[0].toFixed(2)), cpuPressure10s: pressure };
}

async function measureRtt(port, password) {
  return withClient(passwordUrl(port, password), async (c) => {
    const samples = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      await c.query('select 1');
      samples.push(performance.now() - t);
    }
    return median(samples);
  });
}

// ---------------------------------------------------------------------------------------------
// one scenario: a data set at one network distance
// ---------------------------------------------------------------------------------------------

/**
 * The routes a scenario times. `settle` prepares the cloud before each run (the floor route starts
 * from an empty cloud).
 */
const ROUTES = {
  push: { label: '(a) push', run: (ctx, port) => routePush(ctx, port), settle: {} },
  pushNoBulk: {
    label: "(a') push, bulk path off",
    run: (ctx, port) => routePush(ctx, port, NO_BULK),
    settle: {},
  },
  spec: { label: '(b) spec', run: (ctx, port) => routeSpec(ctx, port), settle: {} },
  floor: { label: '(c) floor', run: (ctx, port) => routeFloor(ctx, port), settle: { truncateCloud: true } },
};

/** Runs one route once (settled first), checks the cloud, and reads the proxy's counters. */
async function runRoute(ctx, name, port, via, chore) {
  const route = ROUTES[name];
  await chore(() => settle(ctx, route.settle));
  via?.reset();
  if (via?.trace) via.trace.length = 0;
  const r = await route.run(ctx, port);
  const traffic = via ? via.stats() : null;
  if (via?.trace && name === 'push') {
    log(`  round trips of this push (connection, first bytes sent):`);
    for (const line of via.trace) log(`    ${line}`);
  }
  const load = cpuLoad();
  await chore(() => assertCloudEqualsLocal(ctx, route.label));
  return { ...r, traffic, load };
}

/** Median of each counter over the runs that went through a proxy. */
function medianTraffic(list) {
  const l = list.filter((t) => t !== null);
  if (l.length === 0) return null;
  return Object.fromEntries(Object.keys(l[0]).map((k) => [k, median(l.map((t) => t[k]))]));
}

/**
 * One data set at one network distance: `runs` rounds of every route in `routes`. `via` is the proxy
 * the cloud is reached through (null = directly; then, with `account`, one more untimed run per route
 * goes through the counting proxy for the bytes and round trips).
 */
async function scenario(ctx, { dataset, rows, rttMs, mbit = 0, runs, via, routes, account = true }) {
  const cloudPort = via ? via.port : ctx.cloudSpec.port;
  const samples = Object.fromEntries(routes.map((r) => [r, []]));
  let choresS = 0;
  const chore = async (fn) => {
    const t = performance.now();
    await fn();
    choresS += (performance.now() - t) / 1000;
  };
  const link = `RTT ${rttMs} ms${mbit ? `, ${mbit} Mbit/s` : ''}`;
  log(
    `\n▶ ${dataset} (${rows.toLocaleString('en-US')} rows), ${link}, ${runs} runs per route  [${elapsed()}]`,
  );
  for (let i = 1; i <= runs; i++) {
    const line = [];
    for (const name of routes) {
      const r = await runRoute(ctx, name, cloudPort, via, chore);
      if (name.startsWith('push') && r.rows !== rows)
        throw new Error(`${ROUTES[name].label} copied ${r.rows} rows, expected ${rows}`);
      samples[name].push(r);
      line.push(
        `${ROUTES[name].label.split(' ')[0]} ${fmtS(r.seconds)} s${r.transfer !== undefined ? ` [transfer ${fmtS(r.transfer)} s]` : ''}`,
      );
    }
    log(`  run ${i}/${runs}: ${line.join('   ')}   load ${cpuLoad().load1}  [${elapsed()}]`);
  }
  const traffic = {};
  for (const name of routes) traffic[name] = medianTraffic(samples[name].map((s) => s.traffic));
  if (!via && account && countProxy) {
    for (const name of routes) {
      const r = await runRoute(ctx, name, countProxy.port, countProxy, chore);
      traffic[name] = r.traffic;
    }
    log(`  (one more untimed run per route through the counting proxy)  [${elapsed()}]`);
  }
  const med = (name, f) => (samples[name] ? median(samples[name].map(f)) : null);
  const m = {
    push: med('push', (s) => s.seconds),
    transfer: med('push', (s) => s.transfer),
    pushNoBulk: med('pushNoBulk', (s) => s.seconds),
    spec: med('spec', (s) => s.seconds),
    floor: med('floor', (s) => s.seconds),
  };
  const timingKeys = ['preflightMs', 'backupMs', 'transferMs', 'verifyMs', 'totalMs'];
  const pushTimings = Object.fromEntries(timingKeys.map((k) => [k, med('push', (s) => s.timings[k])]));
  const specKeys = Object.keys(samples.spec?.[0]?.steps ?? {});
  const specSteps = Object.fromEntries(specKeys.map((k) => [k, med('spec', (s) => s.steps[k])]));
  const lastPush = samples.push.at(-1);
  const all = Object.values(samples).flat();
  return {
    dataset,
    rows,
    rttMs,
    mbit,
    runs,
    medians: m,
    ratios: {
      pushOverSpec: ratio(m.push, m.spec),
      transferOverFloor: ratio(m.transfer, m.floor),
      specOverPush: ratio(m.spec, m.push),
      pushNoBulkOverSpec: ratio(m.pushNoBulk, m.spec),
    },
    pushTimingsMedianMs: pushTimings,
    specStepsMedianS: specSteps,
    lastPushTables: lastPush?.tables ?? [],
    bulkLoad: lastPush?.bulkLoad ?? null,
    backupBytes: lastPush?.backupBytes ?? null,
    traffic,
    load: {
      load1Median: median(all.map((s) => s.load.load1)),
      cpuPressureMedian: median(all.map((s) => s.load.cpuPressure10s)),
    },
    choresS,
    samples: Object.fromEntries(
      Object.entries(samples).map(([k, v]) => [
        k,
        v.map((s) => ({ seconds: s.seconds, timings: s.timings })),
      ]),
    ),
  };
}

/** The issues' goals, judged on the medians (null = no goal for this row). */
function goalsFor(r) {
  const out = [];
  const le = (v, limit) => v !== null && v !== undefined && v <= limit;
  if (r.dataset === 'scaled' && r.rttMs === 0) {
    out.push({ goal: '(a) ≤ 0.6 × (b)', met: le(r.ratios.pushOverSpec, 0.6) });
    out.push({ goal: 'transfer ≤ 1.25 × (c)', met: le(r.ratios.transferOverFloor, 1.25) });
  }
  if (r.dataset === 'typical' && r.rttMs > 0 && !r.mbit) {
    out.push({ goal: '(a) ≤ 0.3 × (b)', met: le(r.ratios.pushOverSpec, 0.3) });
    out.push({ goal: '(a) ≤ 25 round trips', met: le(r.traffic.push?.roundTrips, 25) });
  }
  if (r.dataset === 'many-tables' || r.dataset === 'wide-table') {
    // Issue 16: at most the spec route's time plus the backup; the spec route (no count loop for
    // these shapes) is pg_dump of the cloud (its backup) + pg_dump local + truncate + psql import.
    out.push({ goal: '(a) ≤ (b) (pg_dump backup + pg_dump | psql)', met: le(r.ratios.pushOverSpec, 1) });
  }
  return out;
}

const mb = (b) => (b === null || b === undefined ? '—' : (b / 1024 / 1024).toFixed(1));
const linkOf = (r) => `${r.rttMs} ms${r.mbit ? ` / ${r.mbit} Mbit` : ''}`;

function printTable(results) {
  log('\n## Results (medians, seconds)\n');
  log(
    "| data set | rows | RTT / bandwidth | runs | (a) push s | transfer s | (a') no bulk s | (b) spec s | (c) floor s | (a)/(b) | (a')/(b) | transfer/(c) | load avg 1 min | goal |",
  );
  log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    const goals = r.goals.map((g) => `${g.met ? '✅' : '❌'} ${g.goal}`).join('; ') || '—';
    log(
      `| ${r.dataset} | ${r.rows.toLocaleString('en-US')} | ${linkOf(r)} | ${r.runs} | ${fmtS(r.medians.push)} | ${fmtS(r.medians.transfer)} | ${fmtS(r.medians.pushNoBulk)} | ${fmtS(r.medians.spec)} | ${fmtS(r.medians.floor)} | ${fmtR(r.ratios.pushOverSpec)} | ${fmtR(r.ratios.pushNoBulkOverSpec)} | ${fmtR(r.ratios.transferOverFloor)} | ${r.load.load1Median?.toFixed(2) ?? '—'} | ${goals} |`,
    );
  }
  log('\n### Traffic with the cloud per route (at the proxy; MB = MiB)\n');
  log('| data set | RTT / bandwidth | route | MB to cloud | MB from cloud | round trips | connections |');
  log('|---|---:|---|---:|---:|---:|---:|');
  for (const r of results) {
    for (const [name, t] of Object.entries(r.traffic)) {
      if (!t) continue;
      log(
        `| ${r.dataset} | ${linkOf(r)} | ${ROUTES[name].label} | ${mb(t.bytesToServer)} | ${mb(t.bytesToClient)} | ${t.roundTrips} | ${t.connections} |`,
      );
    }
  }
  log('\n### Spread (min – max of the runs, seconds) and machine load during the runs\n');
  log(
    '| data set | RTT / bandwidth | (a) push | (b) spec | (c) floor | load avg 1 min | CPU pressure 10 s |',
  );
  log('|---|---:|---:|---:|---:|---:|---:|');
  const span = (v) =>
    v && v.length
      ? `${fmtS(Math.min(...v.map((x) => x.seconds)))} – ${fmtS(Math.max(...v.map((x) => x.seconds)))}`
      : '—';
  for (const r of results) {
    const s = r.samples;
    const p = r.load.cpuPressureMedian === null ? '—' : `${r.load.cpuPressureMedian.toFixed(0)} %`;
    log(
      `| ${r.dataset} | ${linkOf(r)} | ${span(s.push)} | ${span(s.spec)} | ${span(s.floor)} | ${r.load.load1Median?.toFixed(2) ?? '—'} | ${p} |`,
    );
  }
  log("\n### (a) push breakdown (medians of the CLI's own timings, seconds)\n");
  log(
    '| data set | RTT / bandwidth | preflight | backup | transfer | verify | total (in CLI) | wall (process) | backup size | bulk path |',
  );
  log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    const t = r.pushTimingsMedianMs;
    const s = (ms) => fmtS(ms === null ? null : ms / 1000);
    const b = r.bulkLoad;
    const bulk =
      b && (b.tables.length || b.cycleForeignKeys.length)
        ? `${b.tables.length} tables, ${b.indexes} indexes + ${b.foreignKeys} FKs re-created in ${fmtS(b.rebuildMs / 1000)} s`
        : '—';
    log(
      `| ${r.dataset} | ${linkOf(r)} | ${s(t.preflightMs)} | ${s(t.backupMs)} | ${s(t.transferMs)} | ${s(t.verifyMs)} | ${s(t.totalMs)} | ${fmtS(r.medians.push)} | ${mb(r.backupBytes)} MB | ${bulk} |`,
    );
  }
  log('\n### (b) spec route breakdown (medians, seconds)\n');
  log(
    '| data set | RTT / bandwidth | pg_dump cloud | pg_dump local | truncate | psql import | verify (17 psql) |',
  );
  log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const s = r.specStepsMedianS;
    log(
      `| ${r.dataset} | ${linkOf(r)} | ${fmtS(s.cloudDump)} | ${fmtS(s.localDump)} | ${fmtS(s.truncate)} | ${fmtS(s.import)} | ${fmtS(s.verify)} |`,
    );
  }
  const big = results.find((r) => r.dataset === 'scaled' && r.rttMs === 0);
  if (big && big.lastPushTables.length) {
    log('\n### (a) per-table copy inside the push, scaled set, last run\n');
    log('| table | rows | MB | seconds |');
    log('|---|---:|---:|---:|');
    for (const t of big.lastPushTables) {
      log(
        `| ${t.table} | ${t.rows.toLocaleString('en-US')} | ${(t.bytes / 1024 / 1024).toFixed(1)} | ${fmtS(t.ms / 1000)} |`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

async function main() {
  const bins = findPgBinaries(process.env.PG_BIN ?? null, ROOT);
  const psql = path.join(bins.binDir, 'psql');
  const pgDump = path.join(bins.binDir, 'pg_dump');
  log(`crm-env bench: temp folder ${tempRoot}`);
  log(`Starting two PostgreSQL ${bins.major} servers (fsync on) and applying base schema + migrations...`);
  const [localSpec, cloudSpec] = await startServers(bins.binDir);

  const projectDir = path.join(tempRoot, 'project');
  mkdirSync(projectDir, { recursive: true });
  symlinkSync(path.join(ROOT, 'supabase'), path.join(projectDir, 'supabase'));
  writeFileSync(
    path.join(projectDir, 'package.json'),
    '{ "name": "crm-env-bench-project", "private": true }\n',
  );
  const backupDir = path.join(projectDir, 'backups');
  const config = loadConfig({
    cwd: projectDir,
    env: {
      LOCAL_DATABASE_URL: serverUrl(localSpec),
      DATABASE_URL_PRODUCTION: serverUrl(cloudSpec),
      BACKUP_DIR: backupDir,
    },
  });

  const environment = await withClient(serverUrl(localSpec), async (c) => {
    const { rows } =
      await c.query(`select version() as v, current_setting('server_version') as sv, current_setting('fsync') as fsync,
      current_setting('shared_buffers') as sb, current_setting('max_wal_size') as wal`);
    return rows[0];
  });
  const pgDumpVersion = (await run(pgDump, ['--version'])).stdout.trim();

  log(`Building the typical data set (createTestUsers, defaults)...  [${elapsed()}]`);
  await createTestUsers(config, config.local);
  const tables = await withClient(serverUrl(localSpec), async (c) => {
    const t = await readTables(c, 'public');
    await c.query(`vacuum analyze ${t.map((x) => x.qualified).join(', ')}`);
    return t;
  });
  const ctx = {
    psql,
    pgDump,
    cliBin: path.join(ROOT, 'bin', 'crm-env.js'),
    projectDir,
    backupDir,
    local: { port: localSpec.port, password: localSpec.password },
    cloud: { port: cloudSpec.port, password: cloudSpec.password },
    localSpec,
    cloudSpec,
    tables,
    db: 'postgres',
  };
  countProxy = await startDelayProxy({ targetPort: cloudSpec.port, delayMs: 0 });
  const totalRows = async () => Object.values(await rowCounts(localSpec, tables)).reduce((a, b) => a + b, 0);

  // The cloud starts out holding the data (a push replaces existing data; its backup has real work).
  await routePush(ctx, cloudSpec.port);
  const typicalRows = await totalRows();

  const results = [];
  const add = (r) => {
    r.goals = goalsFor(r);
    results.push(r);
  };
  let measuredRttMs = null;
  const routes = ['push', 'spec', 'floor'];
  const typical = { dataset: 'typical', rows: typicalRows, routes };
  if (OPTS.runs > 0) add(await scenario(ctx, { ...typical, rttMs: 0, runs: OPTS.runs, via: null }));
  if (OPTS.rttMs > 0 && OPTS.runsDelay > 0) {
    proxy = await startDelayProxy({
      targetPort: cloudSpec.port,
      delayMs: OPTS.rttMs / 2,
      trace: OPTS.trace ? [] : null,
    });
    measuredRttMs = await measureRtt(proxy.port, cloudSpec.password);
    log(
      `\nDelay proxy on port ${proxy.port}: ${OPTS.rttMs / 2} ms each way; measured select-1 round trip ${measuredRttMs.toFixed(1)} ms`,
    );
    add(await scenario(ctx, { ...typical, rttMs: OPTS.rttMs, runs: OPTS.runsDelay, via: proxy }));
  }
  if (OPTS.rttMs > 0 && OPTS.mbit > 0 && OPTS.runsBandwidth > 0) {
    bandwidthProxy = await startDelayProxy({
      targetPort: cloudSpec.port,
      delayMs: OPTS.rttMs / 2,
      mbitPerS: OPTS.mbit,
    });
    log(
      `\nBandwidth proxy on port ${bandwidthProxy.port}: ${OPTS.rttMs / 2} ms each way, ${OPTS.mbit} Mbit/s each way`,
    );
    add(
      await scenario(ctx, {
        ...typical,
        rttMs: OPTS.rttMs,
        mbit: OPTS.mbit,
        runs: OPTS.runsBandwidth,
        via: bandwidthProxy,
      }),
    );
  }

  let scaledBuildS = null;
  if (OPTS.rows > 0 && OPTS.runsLarge > 0) {
    log(
      `\nBuilding the scaled data set (~${OPTS.rows.toLocaleString('en-US')} rows, generate_series as postgres)...  [${elapsed()}]`,
    );
    const tb = performance.now();
    await withClient(serverUrl(localSpec), (c) =>
      addScaledData(c, OPTS.rows, (table, n, ms) =>
        log(`  ${table}: ${n.toLocaleString('en-US')} rows in ${(ms / 1000).toFixed(1)} s`),
      ),
    );
    scaledBuildS = (performance.now() - tb) / 1000;
    const scaledRows = await totalRows();
    log(
      `  total ${scaledRows.toLocaleString('en-US')} rows in ${scaledBuildS.toFixed(1)} s; loading the cloud with one untimed push...`,
    );
    await settle(ctx);
    await routePush(ctx, cloudSpec.port);
    const scaled = { dataset: 'scaled', rows: scaledRows, runs: OPTS.runsLarge };
    add(
      await scenario(ctx, {
        ...scaled,
        rttMs: 0,
        via: null,
        routes: ['push', 'pushNoBulk', 'spec', 'floor'],
      }),
    );
    if (OPTS.largeRtt && proxy)
      add(await scenario(ctx, { ...scaled, rttMs: OPTS.rttMs, via: proxy, routes }));
  }

  const shapes = [
    ['many-tables', OPTS.manyTables, { tables: OPTS.manyTables, rows: OPTS.manyRows }],
    ['wide-table', OPTS.wideRows, { rows: OPTS.wideRows, textBytes: OPTS.wideBytes }],
  ];
  for (const [shape, size, params] of shapes) {
    if (size === 0 || OPTS.runsShapes === 0) continue;
    log(`\nBuilding the ${shape} shape (${JSON.stringify(params)})...  [${elapsed()}]`);
    const db = await buildShape(localSpec, cloudSpec, shape, params);
    const shapeTables = await withClient(serverUrl(localSpec, db), (c) => readTables(c, 'public'));
    const sctx = { ...ctx, db, tables: shapeTables, shape };
    const rows = Object.values(await rowCounts(localSpec, shapeTables, db)).reduce((a, b) => a + b, 0);
    await routePush(sctx, cloudSpec.port);
    add(
      await scenario(sctx, {
        dataset: shape,
        rows,
        rttMs: 0,
        runs: OPTS.runsShapes,
        via: null,
        routes: ['push', 'spec'],
      }),
    );
  }

  const cpus = os.cpus();
  const env = {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    postgres: environment.v,
    pgDump: pgDumpVersion,
    serverSettings: {
      fsync: environment.fsync,
      shared_buffers: environment.sb,
      max_wal_size: environment.wal,
    },
    note: 'local server, cloud server, proxy and clients share this machine',
    delayProxy: proxy ? { oneWayMs: OPTS.rttMs / 2, measuredSelect1Ms: measuredRttMs } : null,
    scaledCounts: OPTS.rows > 0 ? scaledCounts(OPTS.rows) : null,
    loadAverageAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
    scaledBuildSeconds: scaledBuildS,
  };

  log('\n## Environment\n');
  log(`- CPU: ${env.cpus} × ${env.cpuModel}; RAM ${env.memoryGiB} GiB; Node ${env.node}`);
  log(`- ${env.postgres}; ${env.pgDump}`);
  log(
    `- servers: fsync=${env.serverSettings.fsync}, shared_buffers=${env.serverSettings.shared_buffers}, max_wal_size=${env.serverSettings.max_wal_size}; ${env.note}`,
  );
  log(`- load average at the end (1/5/15 min): ${env.loadAverageAtEnd.join(' / ')} on ${env.cpus} CPUs`);
  if (env.delayProxy)
    log(
      `- delay proxy: ${env.delayProxy.oneWayMs} ms each way (measured select 1: ${measuredRttMs.toFixed(1)} ms)`,
    );
  printTable(results);

  const goals = results.flatMap((r) => r.goals.map((g) => ({ ...g, dataset: r.dataset, rttMs: r.rttMs })));
  log('\n## Goals\n');
  for (const g of goals)
    log(`- ${g.met ? '✅ met' : '❌ NOT met'}: ${g.goal} (${g.dataset}, RTT ${g.rttMs} ms)`);
  if (goals.length === 0) log('- (no goal applies to the scenarios run)');
  const runtimeS = (performance.now() - benchStart) / 1000;
  log(`\nBench runtime: ${runtimeS.toFixed(0)} s`);

  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ date: new Date().toISOString(), options: OPTS, environment: env, runtimeSeconds: runtimeS, goals, results }, null, 2)}\n`,
  );
  log(`Results written to ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  // After Ctrl-C the killed children make main() fail too; the signal handler already said why.
  if (cleaning === null)
    console.error(`\n❌ bench failed: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.BENCH_DEBUG) console.error(err);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
