/**
 * Per-test databases on the run's two real servers, cloned from templates built once in global setup.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { withClient } from '../../src/db/connect.js';

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

/** A fresh database; returns the URL for the `postgres` role (owner, BYPASSRLS, not superuser). */
export async function createTestDatabase(options: CreateDatabaseOptions = {}): Promise<string> {
  const name = options.server ?? 'local';
  const db = `t_${randomBytes(6).toString('hex')}`;
  const template = options.template ?? 'crm';
  await withClient(urlFor(name, 'postgres', 'supabase_admin'), async (c) => {
    await c.query(
      `create database ${db} ${template === 'empty' ? '' : `template tpl_${template}`} owner postgres`,
    );
  });
  return urlFor(name, db);
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
