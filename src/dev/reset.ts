/**
 * `dev:reset`: the spec's reset, made safe. Backs up both databases first; then rebuilds local's
 * public schema from the migrations and recreates the test users and data (one transaction), and
 * replaces the cloud's data with local's through the all-or-nothing push (which removes only
 * test-domain auth users and never another user), then verifies.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import { requireCloud } from '../config.js';
import type { Confirmer } from '../confirm.js';
import { confirmOrStop, noConfirmation } from '../confirm.js';
import { withClient, withLockedClient, withTransaction } from '../db/connect.js';
import { requirePgDump } from '../db/pg-dump.js';
import { CrmEnvError, OperationError } from '../errors.js';
import { shownPath } from '../format.js';
import type { BackupResult } from '../migration/backup.js';
import { createBackup } from '../migration/backup.js';
import { restoreCommandLine } from '../migration/restore.js';
import { applyOutsideFiles } from '../migration/apply.js';
import { readMigrations } from '../migration/files.js';
import { rebuildPublicSchema } from '../migration/rebuild.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { SyncResult } from './sync.js';
import { syncPush } from './sync.js';
import type { CreateUsersResult } from './test-users.js';
import { createTestUsers } from './test-users.js';
import { testUserPredicate } from './test-users-sql.js';

export interface ResetOptions {
  /** Asked to type RESET before anything happens (default: nobody can confirm, so it is refused). */
  readonly confirm?: Confirmer;
  readonly localOnly?: boolean;
  readonly signal?: AbortSignal;
}

export interface ResetResult {
  readonly backups: readonly BackupResult[];
  readonly migrationsApplied: number;
  readonly users: CreateUsersResult;
  readonly sync: SyncResult | null;
  readonly timings: Record<'backupMs' | 'localMs' | 'usersMs' | 'cloudMs' | 'totalMs', number>;
}

/**
 * Local's public schema rebuilt from the migrations and its test users removed, in ONE transaction under
 * the migration lock; a file with no in-transaction form (see rebuild.ts) is applied after the commit.
 * Calls `committed` once local has changed. Returns the number of migrations applied.
 */
async function rebuildLocal(config: Config, reporter: Reporter, committed: () => void): Promise<number> {
  const { files } = await readMigrations(config.migrationsDir);
  const busyMessage = 'A crm-env migration is running on the local database; try again when it has finished.';
  return withLockedClient(
    config.local.url,
    { label: 'local', lock: 'migrate', busyMessage },
    async (client) => {
      const rebuilt = await withTransaction(client, async () => {
        const r = await rebuildPublicSchema(client, files);
        // Test users go too (their rows went with the tables); other auth users stay.
        await client.query(`delete from auth.users where ${testUserPredicate(config.testUsers.emailDomain)}`);
        return r;
      });
      committed();
      const after = await applyOutsideFiles(client, rebuilt.afterCommit, { reporter });
      return rebuilt.applied.length + after.length;
    },
  );
}

export async function resetEnvironment(
  config: Config,
  options: ResetOptions,
  reporter: Reporter = silentReporter,
): Promise<ResetResult> {
  const cloud = options.localOnly ? null : requireCloud(config, 'pass --local-only to reset local alone');
  await confirmOrStop(options.confirm ?? noConfirmation, 'Reset', {
    message: cloud
      ? 'This deletes all data in the local and cloud databases and recreates the test data.'
      : 'This deletes all data in the local database and recreates the test data.',
    word: 'RESET',
  });
  const t0 = performance.now();
  const backups: BackupResult[] = [];
  let localChanged = false;
  const fail = (step: string, err: unknown): never => {
    const details = [
      ...(err instanceof CrmEnvError ? err.details : []),
      ...backups.map((b) => `Backup taken before the reset: ${shownPath(config.projectDir, b.file)}`),
      // The cloud only changes in the push's all-or-nothing transaction; local may be reset already.
      ...(localChanged && backups[0]
        ? [`To go back (local): ${restoreCommandLine(config, backups[0].file, config.local)}`]
        : []),
    ];
    const message = `Reset stopped at "${step}": ${err instanceof Error ? err.message : String(err)}`;
    throw err instanceof CrmEnvError && err.exitCode === 2 && backups.length === 0
      ? err
      : new OperationError(message, { cause: err, details });
  };

  const targets = [config.local, ...(cloud ? [cloud] : [])];
  // Every backup needs a pg_dump as new as its server: check them all before the first backup.
  for (const target of targets) {
    await withClient(target.url, (client) => requirePgDump(config, client), { label: target.label });
  }
  reporter.step('💾 Backing up before the reset...');
  for (const target of targets) {
    try {
      const b = await createBackup(config, target, { kind: 'reset' });
      backups.push(b);
      reporter.info(`✓ ${target.label}: ${shownPath(config.projectDir, b.file)}`);
    } catch (err) {
      fail(`backup ${target.label}`, err);
    }
  }
  const backupMs = performance.now() - t0;

  reporter.step('🔄 Resetting local database (rebuild public schema from migrations)...');
  const tl = performance.now();
  let migrationsApplied = 0;
  try {
    migrationsApplied = await rebuildLocal(config, reporter, () => {
      localChanged = true;
    });
  } catch (err) {
    fail('reset local', err);
  }
  reporter.info(`✓ Local reset complete (${migrationsApplied} migrations applied)`);
  const localMs = performance.now() - tl;

  reporter.step('👥 Creating fresh test users...');
  const tu = performance.now();
  let users!: CreateUsersResult;
  try {
    users = await createTestUsers(config, config.local);
  } catch (err) {
    fail('create test users', err);
  }
  reporter.info(`✓ ${users.users.length} users created`);
  const usersMs = performance.now() - tu;

  let sync: SyncResult | null = null;
  const tc = performance.now();
  if (cloud) {
    reporter.step('☁️  Resetting cloud: replacing its data and test users with local (one transaction)...');
    try {
      sync = await syncPush(config, { force: true, signal: options.signal }, silentReporter);
    } catch (err) {
      fail('push to cloud', err);
    }
    reporter.info(`✓ Cloud data replaced; backup ${shownPath(config.projectDir, sync!.backupFile)}`);
    reporter.info(
      `✓ Verified: ${sync!.verify.tables.length} tables equal, ${sync!.verify.users.length} test users equal`,
    );
  }
  return {
    backups,
    migrationsApplied,
    users,
    sync,
    timings: { backupMs, localMs, usersMs, cloudMs: performance.now() - tc, totalMs: performance.now() - t0 },
  };
}
