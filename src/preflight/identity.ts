/**
 * Which server and database a connection really reached — never decided from URL text, which can name
 * one server many ways (127.1, LOCALHOST, [::1], a socket folder in `?host=`, a percent-encoded name).
 *
 * The PostgreSQL system identifier (pg_control_system()) names a cluster. Stock PostgreSQL lets every
 * role read it, but a hosted server may revoke it (Supabase's `postgres` is no superuser), and a
 * physical replica or a disk-snapshot clone shares it. So the decision rests on what every role can
 * read and what no two running servers share: the postmaster's start time (microseconds) and port.
 * The system identifier, when both sides can read it, must agree too. The database is its oid and name.
 */
import type { Client } from '../db/connect.js';
import { pgFields } from '../db/connect.js';

export interface ServerIdentity {
  /** pg_control_system().system_identifier, or null when this role may not read it. */
  readonly systemId: string | null;
  /** `<postmaster start time>/<port>`: the running server, readable by any role. */
  readonly server: string;
  readonly databaseOid: string;
  readonly database: string;
}

const BASE = `pg_postmaster_start_time()::text || '/' || current_setting('port') as server,
  (select oid::text from pg_database where datname = current_database()) as database_oid,
  current_database() as database`;

/**
 * The identity query (one statement, no parameters, to send with others). `withSystemId` false for a
 * server that revoked pg_control_system() from this role: the first form then fails with 42501
 * ({@link systemIdRevoked}), which is checked when the function is set up, whatever guards it.
 */
export function serverIdentitySql(withSystemId: boolean): string {
  return `select ${withSystemId ? '(pg_control_system()).system_identifier::text' : 'null::text'} as system_id, ${BASE}`;
}

/** True for the error of a server that revoked pg_control_system() (42501, permission denied). */
export function systemIdRevoked(err: unknown): boolean {
  return pgFields(err).code === '42501';
}

/** The row of {@link serverIdentitySql} as an identity. */
export function identityFromRow(row: Record<string, unknown>): ServerIdentity {
  return {
    systemId: (row.system_id as string | null) ?? null,
    server: row.server as string,
    databaseOid: row.database_oid as string,
    database: row.database as string,
  };
}

/** Reads the identity of the server and database `client` is connected to (read-only). */
export async function serverIdentity(client: Client): Promise<ServerIdentity> {
  try {
    return identityFromRow((await client.query(serverIdentitySql(true))).rows[0]!);
  } catch (err) {
    if (!systemIdRevoked(err)) throw err;
    return identityFromRow((await client.query(serverIdentitySql(false))).rows[0]!);
  }
}

/** True when two identities are the same database on the same running server. */
export function sameDatabase(a: ServerIdentity, b: ServerIdentity): boolean {
  const systemAgrees = a.systemId === null || b.systemId === null || a.systemId === b.systemId;
  return (
    systemAgrees && a.server === b.server && a.databaseOid === b.databaseOid && a.database === b.database
  );
}
