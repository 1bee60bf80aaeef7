/**
 * The three ways the bench moves local data to the cloud, each timed end to end:
 *
 *   (a) push   the real CLI: `node bin/crm-env.js sync push --force --json`
 *   (b) spec   the spec's sync-local-to-cloud.sh route: pg_dump the cloud (backup) and local to
 *              files, TRUNCATE … CASCADE, psql import, then verify-environment.sh's count loop
 *   (c) floor  `psql -c '\copy … to stdout' | psql -c '\copy … from stdin'` per table, in FK order,
 *              into an already truncated cloud: the least work any route can do
 *
 * `ctx`: { psql, pgDump, cliBin, projectDir, backupDir, local: {port, password}, cloud: {password},
 * tables, db?, shape? } where `tables` are local's public tables (catalog order: parents first), `db`
 * the database on both servers (default postgres) and `shape` set for the bench's own schemas (the
 * spec route then truncates their tables and skips the CRM's count loop).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { childEnv, run } from './proc.mjs';

/** A URL without the password: psql and pg_dump get it through PGPASSWORD. */
export const plainUrl = (port, db = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${db}`;
export const passwordUrl = (port, password, db = 'postgres') =>
  `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

const since = (t) => (performance.now() - t) / 1000;

// ---------------------------------------------------------------------------------------------
// (a) crm-env sync push
// ---------------------------------------------------------------------------------------------

/** `extraEnv`: e.g. `{ SYNC_BULK_MIN_ROWS: '1000000000' }` to time the push without its bulk path. */
export async function routePush(ctx, cloudPort, extraEnv = {}) {
  const env = childEnv({
    LOCAL_DATABASE_URL: passwordUrl(ctx.local.port, ctx.local.password, ctx.db),
    DATABASE_URL_PRODUCTION: passwordUrl(cloudPort, ctx.cloud.password, ctx.db),
    BACKUP_DIR: ctx.backupDir,
    ...extraEnv,
  });
  const t = performance.now();
  const { stdout } = await run(process.execPath, [ctx.cliBin, 'sync', 'push', '--force', '--json'], {
    env,
    cwd: ctx.projectDir,
  });
  const seconds = since(t);
  const result = JSON.parse(stdout);
  if (!result.timings) throw new Error(`sync push printed no timings: ${stdout.slice(0, 300)}`);
  return {
    seconds,
    transfer: result.timings.transferMs / 1000,
    timings: result.timings,
    rows: result.totalRows,
    backupBytes: result.backupBytes,
    tables: result.tables,
    bulkLoad: result.bulkLoad ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) the spec's shell route, made to work
// ---------------------------------------------------------------------------------------------

/**
 * The spec's excludes (auth, storage) plus what a data-only dump of a Supabase database must also
 * leave out for the import to succeed: `supabase_migrations` (the cloud already has the same history
 * rows: duplicate keys) and `extensions` (extension-owned data).
 */
const DUMP_ARGS = [
  '--no-owner',
  '--no-acl',
  '--data-only',
  '--exclude-schema=auth',
  '--exclude-schema=storage',
  '--exclude-schema=extensions',
  '--exclude-schema=supabase_migrations',
];

/** The spec's TRUNCATE, with the camelCase tables quoted (unquoted they name no table). */
const SPEC_TRUNCATE = `TRUNCATE TABLE
  public.activities,
  public."contactNotes",
  public.contacts,
  public."dealNotes",
  public.deals,
  public.opportunities,
  public.organizations,
  public.products,
  public.sales,
  public.segments,
  public.tags,
  public.tasks,
  public.test_user_metadata
CASCADE;
`;

/** verify-environment.sh's TABLES, one psql per count on each side, as the script does. */
const SPEC_VERIFY_TABLES = [
  'activities',
  'contacts',
  '"contactNotes"',
  'opportunities',
  'organizations',
  'products',
  'sales',
  'tasks',
];

export async function routeSpec(ctx, cloudPort) {
  const dir = path.join(ctx.projectDir, 'spec-sync');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cloudUrl = plainUrl(cloudPort, ctx.db);
  const localUrl = plainUrl(ctx.local.port, ctx.db);
  const cloudEnv = childEnv({ PGPASSWORD: ctx.cloud.password });
  const localEnv = childEnv({ PGPASSWORD: ctx.local.password });
  // -v ON_ERROR_STOP=1 is an addition: without it psql reports success after a failed statement.
  const psqlCloud = [cloudUrl, '-X', '-v', 'ON_ERROR_STOP=1'];
  const backupFile = path.join(dir, 'cloud_backup.sql');
  const dumpFile = path.join(dir, 'local_dump.sql');
  const steps = {};
  const t0 = performance.now();
  let t = t0;
  const lap = (name) => {
    steps[name] = since(t);
    t = performance.now();
  };

  // Step 1: backup cloud; step 2: dump local.
  await run(ctx.pgDump, [cloudUrl, ...DUMP_ARGS, '-f', backupFile], { env: cloudEnv });
  lap('cloudDump');
  await run(ctx.pgDump, [localUrl, ...DUMP_ARGS, '-f', dumpFile], { env: localEnv });
  lap('localDump');
  // Step 3: clear cloud data; step 4: import local data.
  const truncate = ctx.shape
    ? `TRUNCATE TABLE ${ctx.tables.map((t) => t.qualified).join(', ')} CASCADE;\n`
    : SPEC_TRUNCATE;
  await run(ctx.psql, psqlCloud, { env: cloudEnv, stdin: truncate });
  lap('truncate');
  await run(ctx.psql, psqlCloud, { env: cloudEnv, stdin: { file: dumpFile } });
  lap('import');
  // Step 7: verify-environment.sh (the CRM's tables; the bench's own shapes have none to count).
  if (ctx.shape) return { seconds: since(t0), steps };
  for (const table of SPEC_VERIFY_TABLES) {
    const sql = `SELECT COUNT(*) FROM public.${table};`;
    const l = await run(ctx.psql, [localUrl, '-X', '-t', '-c', sql], { env: localEnv });
    const c = await run(ctx.psql, [cloudUrl, '-X', '-t', '-c', sql], { env: cloudEnv });
    if (Number(l.stdout.trim()) !== Number(c.stdout.trim())) {
      throw new Error(
        `spec route: ${table} has ${l.stdout.trim()} rows locally but ${c.stdout.trim()} on the cloud`,
      );
    }
  }
  await run(
    ctx.psql,
    [
      cloudUrl,
      '-X',
      '-t',
      '-c',
      "SELECT email FROM auth.users WHERE email LIKE '%@test.local' ORDER BY email;",
    ],
    { env: cloudEnv },
  );
  lap('verify');
  return { seconds: since(t0), steps };
}

// ---------------------------------------------------------------------------------------------
// (c) the floor: one psql | psql pipe per table
// ---------------------------------------------------------------------------------------------

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

/** Passwords, URLs and commands travel in the environment, never in argv. */
const PIPE = [
  'set -o pipefail',
  'PGPASSWORD="$BENCH_LOCAL_PW" "$BENCH_PSQL" "$BENCH_LOCAL_URL" -X -v ON_ERROR_STOP=1 -c "$BENCH_OUT" |',
  '  PGPASSWORD="$BENCH_CLOUD_PW" "$BENCH_PSQL" "$BENCH_CLOUD_URL" -X -v ON_ERROR_STOP=1 -c "$BENCH_IN"',
].join('\n');

export async function routeFloor(ctx, cloudPort) {
  const base = {
    BENCH_PSQL: ctx.psql,
    BENCH_LOCAL_URL: plainUrl(ctx.local.port, ctx.db),
    BENCH_CLOUD_URL: plainUrl(cloudPort, ctx.db),
    BENCH_LOCAL_PW: ctx.local.password,
    BENCH_CLOUD_PW: ctx.cloud.password,
  };
  const t0 = performance.now();
  for (const table of ctx.tables) {
    const cols = table.copyColumns.map(quoteIdent).join(', ');
    await run('bash', ['-c', PIPE], {
      env: childEnv({
        ...base,
        BENCH_OUT: `\\copy ${table.qualified} (${cols}) to stdout`,
        BENCH_IN: `\\copy ${table.qualified} (${cols}) from stdin`,
      }),
    });
  }
  return { seconds: since(t0) };
}
