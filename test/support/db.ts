/**
 * Per-test databases on the run's two real servers, cloned from templates built once in global setup.
 * Every database made here is dropped when its test file ends (test/support/per-file.ts), so the
 * servers hold only the running files' databases and the run ends with little to remove.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { withClient } from '../../src/db/connect.js';
import { dropDatabaseForce } from '../../src/db/drop-database.js';
import { quoteIdent } from '../../src/db/sql.js';

export type ServerName = 'local' | 'cloud';

export interface CreateDatabaseOptions {
  readonly server?: ServerName;
  /** 'crm' = base schema + all migrations; 'base' = base schema only; 'empty' = plain database. */
  readonly template?: 'base' | 'crm' | 'empty';
}

function server(name: ServerName) {
  return inject('pgServers')[name];
}

/** URL of a role on a server (default: `postgres`, the non-superuser BYPASSRLS role tools use). */
export function urlFor(
  name: ServerName,
  database: string,
  user: 'postgres' | 'supabase_admin' = 'postgres',
): string {
  const s = server(name);
  return `postgresql://${user}:${s.password}@127.0.0.1:${s.port}/${database}`;
}

/** The same database as `url`, as the cluster superuser (for setup that needs it). */
export function superuserUrl(url: string): string {
  const u = new URL(url);
  u.username = 'supabase_admin';
  return u.toString();
}

/** The databases this test file made, per server, newest last. */
const made: Record<ServerName, string[]> = { local: [], cloud: [] };

/**
 * Creates database `db` on server `name` (`create database <db> <clause>`) as the superuser and
 * records it for {@link dropTestDatabases}; returns the URL for the `postgres` role.
 */
export async function createTrackedDatabase(name: ServerName, db: string, clause: string): Promise<string> {
  made[name].push(db);
  await withClient(urlFor(name, 'postgres', 'supabase_admin'), async (c) => {
    // FILE_COPY: the files copied as they are, not written through the WAL block by block (PG 15's
    // default), which took a third more server CPU and left hundreds of MB of WAL per server.
    await c.query(`create database ${quoteIdent(db)} ${clause} strategy file_copy owner postgres`);
  });
  return urlFor(name, db);
}

/** A fresh database; returns the URL for the `postgres` role (owner, BYPASSRLS, not superuser). */
export async function createTestDatabase(options: CreateDatabaseOptions = {}): Promise<string> {
  const template = options.template ?? 'crm';
  return createTrackedDatabase(
    options.server ?? 'local',
    `t_${randomBytes(6).toString('hex')}`,
    template === 'empty' ? '' : `template tpl_${template}`,
  );
}

/**
 * Drops every database this file made (newest first: clones before the templates they came from),
 * ending any session still on them; run once per file after its own hooks (test/support/per-file.ts).
 */
export async function dropTestDatabases(): Promise<void> {
  await Promise.all(
    (Object.keys(made) as ServerName[]).map(async (name) => {
      const dbs = made[name].splice(0).reverse();
      if (dbs.length === 0) return;
      await withClient(urlFor(name, 'postgres', 'supabase_admin'), async (c) => {
        for (const db of dbs) await dropDatabaseForce(c, db);
      });
    }),
  );
}

/** A local and a cloud database at once. */
export async function createDatabasePair(
  template: CreateDatabaseOptions['template'] = 'crm',
): Promise<{ local: string; cloud: string }> {
  const [local, cloud] = await Promise.all([
    createTestDatabase({ server: 'local', template }),
    createTestDatabase({ server: 'cloud', template }),
  ]);
  return { local, cloud };
}
