#!/usr/bin/env node
/**
 * Benchmark of `crm-env reset --yes` on the embedded stack: backups of both databases, local schema
 * rebuilt from the migrations, fresh test users and data, push to the sandbox cloud, verify — the
 * whole process, one warm-up and 5 timed runs. Needs `npm run stack:up` (it resets the stack's data).
 * Goal: median < 5 s (the spec allows 3 minutes).
 *
 *   npm run build && node scripts/bench-reset.mjs
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { benchCommand, fail, requireBuild, ROOT } from './bench/command.mjs';

requireBuild();
if (!existsSync(path.join(ROOT, '.crm-env', 'stack.env')))
  fail('No embedded stack: run `npm run stack:up` first.');
benchCommand({
  title: 'node bin/crm-env.js reset --yes (local + sandbox cloud)',
  args: ['reset', '--yes'],
  goalMs: 5000,
  limitMs: 180_000,
});
