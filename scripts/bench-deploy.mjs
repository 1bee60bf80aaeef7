#!/usr/bin/env node
/**
 * Benchmark: deploying the whole CRM schema (every file in supabase/migrations) onto an empty database that
 * has only the Supabase base schema, with
 *   A. `crm-env migrate deploy local --yes --json` (what `npm run migrate:deploy -- local --yes` runs:
 *      lock, validation, dry run, pg_dump backup, one-transaction apply, post-migration checks), and
 *   B. `supabase db push --db-url <url> --yes` (the real Supabase CLI from node_modules; one transaction per
 *      file, no backup, no dry run, no checks).
 * Both are timed as whole processes (start-up included, npm/npx overhead excluded for both), on a fresh
 * database cloned from a base-schema template for every run, alternating A and B; 1 warm-up run each, then
 * the median of 5. A's own phase timings (from its JSON report) are printed too.
 *
 *   npm run build && node scripts/bench-deploy.mjs
 *
 * Starts its own throwaway PostgreSQL server (same code as the embedded stack) and removes it afterwards;
 * nothing of the stack or the repository is touched (both tools run in a temporary project folder).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from './bench/command.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'crm-env.js');
const SUPABASE = path.join(ROOT, 'node_modules', '.bin', 'supabase');
const RUNS = 5;

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('❌ dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const { withClient } = await import('../dist/db/connect.js');
const { applyBaseSchema } = await import('../dist/stack/base-schema.js');
const { findPgBinaries } = await import('../dist/stack/pg-binaries.js');
const { initCluster, preparePostgresRole, serverUrl, startServer, stopServer } =
  await import('../dist/stack/server.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

const root = mkdtempSync(path.join(os.tmpdir(), 'crm-env-bench-deploy-'));
chmodSync(root, 0o755); // the server runs as the `postgres` OS user when we are root
const spec = {
  name: 'bench',
  binDir: findPgBinaries(process.env.PG_BIN ?? null, ROOT).binDir,
  dataDir: path.join(root, 'server', 'data'),
  port: await freePort(),
  password: randomBytes(12).toString('hex'),
};
const project = path.join(root, 'project');
mkdirSync(path.join(project, 'supabase'), { recursive: true });
symlinkSync(path.join(ROOT, 'supabase', 'migrations'), path.join(project, 'supabase', 'migrations'));

const admin = serverUrl(spec, 'postgres', 'supabase_admin');
let n = 0;
/** A fresh database with the base schema only (cloned from the template). */
async function freshDatabase() {
  const db = `bench_${++n}`;
  await withClient(admin, (c) => c.query(`create database ${db} template tpl_base owner postgres`));
  return serverUrl(spec, db);
}

function timed(cmd, args, env) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: project, env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${path.basename(cmd)} ${args[0]} failed (exit ${r.status}):\n${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const crmEnv = (url) =>
  timed(process.execPath, [BIN, 'migrate', 'deploy', 'local', '--yes', '--json'], {
    LOCAL_DATABASE_URL: url,
  });
const supabasePush = (url) =>
  timed(SUPABASE, ['db', 'push', '--db-url', `${url}?sslmode=disable`, '--yes'], {
    HOME: project,
    SUPABASE_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
  });

try {
  await initCluster(spec);
  await startServer(spec);
  await preparePostgresRole(spec);
  await withClient(admin, (c) => c.query('create database tpl_base owner postgres'));
  await applyBaseSchema(serverUrl(spec, 'tpl_base', 'supabase_admin'));

  const a = [];
  const b = [];
  const phases = [];
  for (let i = 0; i <= RUNS; i++) {
    const ra = crmEnv(await freshDatabase());
    const rb = supabasePush(await freshDatabase());
    if (i === 0) continue; // warm-up (file cache, parser WASM, CLI binary)
    a.push(ra.ms);
    b.push(rb.ms);
    const report = JSON.parse(ra.stdout);
    const sum = (files) => files.reduce((s, f) => s + (f.ms ?? 0), 0);
    phases.push({
      total: report.ms,
      dry: sum(report.dryRunFiles),
      backup: report.backup.ms,
      apply: sum(report.files),
    });
    console.log(`run ${i}: crm-env ${fmt(ra.ms)} | supabase db push ${fmt(rb.ms)}`);
  }
  const p = (k) => median(phases.map((x) => x[k]));
  console.log('');
  console.log(`Whole schema (${phases.length} runs, median), process wall time:`);
  console.log(
    `  crm-env migrate deploy local --yes : ${fmt(median(a))}  (min ${fmt(Math.min(...a))}, max ${fmt(Math.max(...a))})`,
  );
  console.log(
    `  supabase db push --db-url --yes   : ${fmt(median(b))}  (min ${fmt(Math.min(...b))}, max ${fmt(Math.max(...b))})`,
  );
  console.log(
    `  crm-env inside the process: ${fmt(p('total'))} = dry run SQL ${fmt(p('dry'))}, backup ${fmt(p('backup'))}, apply SQL ${fmt(p('apply'))}, rest (connect, validate, post-checks)`,
  );
} finally {
  await stopServer(spec).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
