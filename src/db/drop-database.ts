/**
 * Dropping a throwaway database (the rehearsal's, a test's) that may still have sessions on it.
 */
import type { Client } from './connect.js';
import { pgFields } from './connect.js';
import { quoteIdent } from './sql.js';

/** How many times the drop is asked while the sessions it ended are still exiting. */
const ATTEMPTS = 5;

/**
 * DROP DATABASE IF EXISTS … WITH (FORCE): ends the database's sessions, but waits only 5 s for them to
 * exit; on a busy machine that can be too short ("in use", 55006), so the drop is asked again.
 */
export async function dropDatabaseForce(client: Client, database: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
      return;
    } catch (err) {
      if (pgFields(err).code !== '55006' || attempt >= ATTEMPTS) throw err;
    }
  }
}
