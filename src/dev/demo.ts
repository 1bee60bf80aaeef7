/**
 * `npm run demo`: the whole workflow on the embedded stack, with no setup: start the stack (base
 * schema + migrations), create the test users and data locally, push to the sandbox cloud, verify.
 * It always uses the stack's own two servers — never a cloud configured in .env.production.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { StackUpResult } from '../stack/stack.js';
import { stackUp } from '../stack/stack.js';
import type { SyncResult } from './sync.js';
import { syncPush } from './sync.js';
import type { CreateUsersResult } from './test-users.js';
import { createTestUsers } from './test-users.js';
import type { UsersCheckReport } from './users-check.js';
import { checkTestUsers } from './users-check.js';

export interface DemoStep {
  readonly name: string;
  readonly ms: number;
}

export interface DemoResult {
  readonly stack: StackUpResult;
  readonly users: CreateUsersResult;
  readonly sync: SyncResult;
  readonly cloudUsers: UsersCheckReport;
  readonly steps: readonly DemoStep[];
  /** The configuration the demo ran with (the stack's servers). */
  readonly config: Config;
}

export async function runDemo(base: Config, reporter: Reporter = silentReporter): Promise<DemoResult> {
  const steps: DemoStep[] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    reporter.step(name);
    const t = performance.now();
    const r = await fn();
    steps.push({ name, ms: performance.now() - t });
    return r;
  };
  const stack = await timed('🚀 Starting the embedded stack and applying migrations', () =>
    stackUp(base, reporter),
  );
  const url = (name: 'local' | 'sandbox'): string => stack.servers.find((s) => s.name === name)!.url;
  const config: Config = {
    ...base,
    local: { label: 'local', url: url('local'), source: 'stack' },
    cloud: { label: 'cloud', url: url('sandbox'), source: 'stack' },
    secrets: [...base.secrets, ...stack.servers.map((s) => decodeURIComponent(new URL(s.url).password))],
  };
  const users = await timed('👥 Creating test users and CRM data locally', () =>
    createTestUsers(config, config.local),
  );
  const sync = await timed('☁️  Pushing local to the sandbox cloud (backup, one transaction, verify)', () =>
    syncPush(config, { force: true }, silentReporter),
  );
  const cloudUsers = await timed('🔐 Checking the test users can sign in on the cloud', () =>
    checkTestUsers(config, config.cloud!),
  );
  return { stack, users, sync, cloudUsers, steps, config };
}
