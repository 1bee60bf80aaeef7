/**
 * The preflight plans of `migrate deploy` and `migrate up`: the role must own what the migrations alter
 * and see every row they update; a deploy that will apply something backs the target up first.
 */
import type { Config, DatabaseTarget } from '../config.js';
import { withClient } from '../db/connect.js';
import { ConfigError } from '../errors.js';
import { endOnAbort, interruptible } from '../interrupt.js';
import { readMigrations } from '../migration/files.js';
import { planMigrations, readHistory } from '../migration/history.js';
import type { ApplyResult } from '../migration/apply.js';
import type { MigrateUpOptions } from '../migration/runner.js';
import { migrateUp } from '../migration/runner.js';
import { runPreflight } from './preflight.js';
import type { Capability } from './capabilities.js';
import type { PreflightPlan } from './preflight.js';

const MIGRATION_NEEDS: readonly Capability[] = ['bypass-rls', 'own-public', 'write-history'];

/** True when `target` has migrations to apply (or its history cannot be planned: deploy reports that). */
async function hasPending(
  config: Config,
  target: DatabaseTarget,
  includeAll: boolean,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const { files } = await readMigrations(config.migrationsDir);
  try {
    const history = await withClient(
      target.url,
      async (client) => {
        const stop = endOnAbort(signal, [client]);
        try {
          return await readHistory(client);
        } finally {
          stop();
        }
      },
      { label: target.label },
    );
    return planMigrations(history, files, includeAll).pending.length > 0;
  } catch (err) {
    // Unreachable, or a history this role may not read: the preflight itself says which.
    if (err instanceof ConfigError || signal?.aborted) throw err;
    return true;
  }
}

export async function deployPreflightPlan(
  config: Config,
  target: DatabaseTarget,
  options: { dryRun: boolean; includeAll: boolean; signal?: AbortSignal },
): Promise<PreflightPlan> {
  const backs = !options.dryRun && (await hasPending(config, target, options.includeAll, options.signal));
  return {
    command: 'migrate deploy',
    signal: options.signal,
    databases: [{ target, needs: MIGRATION_NEEDS, backups: backs ? ['full'] : [] }],
  };
}

export function migrateUpPreflightPlan(target: DatabaseTarget, signal?: AbortSignal): PreflightPlan {
  return { command: 'migrate up', signal, databases: [{ target, needs: MIGRATION_NEEDS }] };
}

/**
 * `migrate up` as the CLI runs it: the preflight, then the pending migrations in one transaction;
 * Ctrl-C (the signal) rolls the transaction back.
 */
export async function migrateUpWithPreflight(
  config: Config,
  target: DatabaseTarget,
  options: MigrateUpOptions = {},
): Promise<ApplyResult> {
  const { signal } = options;
  await runPreflight(config, migrateUpPreflightPlan(target, signal));
  const interrupted = `migrate up interrupted; the ${target.label} database was rolled back and is unchanged.`;
  return interruptible(signal, interrupted, () =>
    migrateUp(target.url, config.migrationsDir, options, target.label),
  );
}
