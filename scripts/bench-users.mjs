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
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { benchCommand, fail, requireBuild, ROOT } from './bench/command.mjs';

requireBuild();
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

benchCommand({
  title: `node bin/crm-env.js users create --target ${redactUrl(url)}`,
  args: ['users', 'create', '--target', url],
  goalMs: 1500,
  limitMs: 30_000,
});
