/**
 * `crm-env migrate up` (and `stack up`, the demo, the test templates): the pending migrations of a folder,
 * applied through THE applier (apply.ts) under the crm-env migration advisory lock — in ONE transaction,
 * files that cannot run in a transaction on their own afterwards, history rows as the Supabase CLI writes
 * them. Unlike `supabase db push` (one transaction per file), a failure in any transactional file leaves
 * the target exactly as it was: no new table, no new history row.
 */
import { withLockedClient } from '../db/connect.js';
import type { ApplyOptions, ApplyResult } from './apply.js';
import { applyMigrations } from './apply.js';
import { readMigrations } from './files.js';
import { endOnAbort } from '../interrupt.js';

export interface MigrateUpOptions extends Omit<ApplyOptions, 'mode'> {
  /** Stops the run (Ctrl-C): the connection ends and the transaction rolls back. */
  readonly signal?: AbortSignal;
}

/**
 * Applies the pending migrations of `dir` to the database at `url`, holding the crm-env migration advisory
 * lock (a second concurrent run fails fast). Throws ApplyFailedError naming the file and line.
 */
export async function migrateUp(
  url: string,
  dir: string,
  options: MigrateUpOptions = {},
  label = 'target',
): Promise<ApplyResult> {
  const { files } = await readMigrations(dir);
  return withLockedClient(
    url,
    {
      label,
      lock: 'migrate',
      busyMessage:
        'Another crm-env migration is running on this database; wait for it to finish and try again.',
    },
    async (client) => {
      const stop = endOnAbort(options.signal, [client]);
      try {
        return await applyMigrations(client, files, { ...options, mode: 'commit' });
      } finally {
        stop();
      }
    },
  );
}
