/**
 * What the connected role may do, read from the catalog in one round trip and compared with what a
 * command needs on that database. Each shortfall is one sentence; nothing is changed.
 */
import type { Client } from '../db/connect.js';

/**
 * - `bypass-rls`: sees every row (superuser or BYPASSRLS): COPY and DELETE under row-level security
 *   would silently skip rows.
 * - `read-data`: SELECT on every public table and on auth.users / auth.identities.
 * - `write-data`: SELECT, INSERT, UPDATE, DELETE on every public table (users create).
 * - `replace-data`: the same plus TRUNCATE (push, data restores).
 * - `write-auth`: SELECT, INSERT, UPDATE, DELETE on auth.users and auth.identities.
 * - `own-public`: owns every table, view, sequence and routine in public, and may create there
 *   (rebuilding the schema, migrations, full restores drop and alter them).
 * - `write-history`: reads and writes the migration history (supabase_migrations.schema_migrations),
 *   or may create it where it does not exist yet.
 */
export type Capability =
  'bypass-rls' | 'read-data' | 'write-data' | 'replace-data' | 'write-auth' | 'own-public' | 'write-history';

interface RoleFacts {
  role: string;
  bypass: boolean;
  create_public: boolean;
  not_owned: string[];
  not_readable: string[];
  not_writable: string[];
  not_truncatable: string[];
  auth_not_readable: string[];
  auth_not_writable: string[];
  history_ok: boolean;
}

const PUBLIC_TABLES = `from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition`;
const NOT_EXTENSION = (oid: string): string =>
  `not exists (select 1 from pg_depend d where d.objid = ${oid} and d.deptype = 'e')`;
const AUTH_TABLES = `unnest(array['auth.users', 'auth.identities']) t`;
const can = (privileges: readonly string[], table: string): string =>
  privileges.map((p) => `has_table_privilege(${table}, '${p}')`).join(' and ');

export const ROLE_FACTS_SQL = `select current_user as role,
  coalesce((select rolsuper or rolbypassrls from pg_roles where rolname = current_user), false) as bypass,
  coalesce((select has_schema_privilege(oid, 'CREATE') from pg_namespace where nspname = 'public'),
           has_database_privilege(current_database(), 'CREATE')) as create_public,
  array(select format('%s', c.oid::regclass) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
           and ${NOT_EXTENSION('c.oid')} and not pg_has_role(c.relowner, 'USAGE')
        union all
        select format('%s(%s)', p.oid::regproc, pg_get_function_identity_arguments(p.oid))
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and ${NOT_EXTENSION('p.oid')} and not pg_has_role(p.proowner, 'USAGE')
        order by 1) as not_owned,
  array(select format('%s', c.oid::regclass) ${PUBLIC_TABLES} and not (${can(['SELECT'], 'c.oid')}) order by 1) as not_readable,
  array(select format('%s', c.oid::regclass) ${PUBLIC_TABLES}
           and not (${can(['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'c.oid')}) order by 1) as not_writable,
  array(select format('%s', c.oid::regclass) ${PUBLIC_TABLES} and not (${can(['TRUNCATE'], 'c.oid')}) order by 1) as not_truncatable,
  array(select t from ${AUTH_TABLES}
         where to_regclass(t) is null or not (${can(['SELECT'], 'to_regclass(t)')})) as auth_not_readable,
  array(select t from ${AUTH_TABLES}
         where to_regclass(t) is null or not (${can(['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'to_regclass(t)')})) as auth_not_writable,
  (select case when ns.oid is null then has_database_privilege(current_database(), 'CREATE')
               when h.oid is null then has_schema_privilege(ns.oid, 'CREATE')
               else has_schema_privilege(ns.oid, 'USAGE') and ${can(['SELECT', 'INSERT', 'DELETE'], 'h.oid')} end
     from (select 1) one
     left join pg_namespace ns on ns.nspname = 'supabase_migrations'
     left join pg_class h on h.relnamespace = ns.oid and h.relname = 'schema_migrations') as history_ok`;

function some(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names[0]} (and ${names.length - 1} more)`;
}

/**
 * The capabilities in `needs` that the role connected on `client` lacks, one sentence each. `label`
 * names the database ("local", "cloud"), `command` the command that needs them.
 */
export async function missingCapabilities(
  client: Client,
  needs: readonly Capability[],
  label: string,
  command: string,
): Promise<string[]> {
  if (needs.length === 0) return [];
  const { rows } = await client.query(ROLE_FACTS_SQL);
  return capabilityProblems(rows[0]!, needs, label, command);
}

/** {@link missingCapabilities} from the row of {@link ROLE_FACTS_SQL}, read by the caller. */
export function capabilityProblems(
  row: Record<string, unknown>,
  needs: readonly Capability[],
  label: string,
  command: string,
): string[] {
  const f = row as unknown as RoleFacts;
  const who = `The ${label} role ${f.role}`;
  const fix = 'connect as postgres (the owner, with BYPASSRLS) or grant what is missing';
  const problems: string[] = [];
  const lacks = (names: readonly string[], what: string): void => {
    if (names.length > 0) problems.push(`${who} ${what} ${some(names)}, which ${command} needs; ${fix}.`);
  };
  for (const need of new Set(needs)) {
    switch (need) {
      case 'bypass-rls':
        if (!f.bypass)
          problems.push(
            `${who} is subject to row-level security (not superuser, no BYPASSRLS), so ${command} would not see every row; ${fix}.`,
          );
        break;
      case 'read-data':
        lacks([...f.not_readable, ...f.auth_not_readable], 'may not read');
        break;
      case 'write-data':
        lacks(f.not_writable, 'may not read and write');
        break;
      case 'replace-data':
        lacks([...new Set([...f.not_writable, ...f.not_truncatable])].sort(), 'may not empty and reload');
        break;
      case 'write-auth':
        lacks(f.auth_not_writable, 'may not read and write');
        break;
      case 'write-history':
        if (!f.history_ok)
          problems.push(
            `${who} may not read and write the migration history (supabase_migrations.schema_migrations), which ${command} needs; ${fix}.`,
          );
        break;
      case 'own-public':
        if (!f.create_public)
          problems.push(`${who} may not create objects in schema public, which ${command} needs; ${fix}.`);
        lacks(f.not_owned, 'does not own');
        break;
    }
  }
  return problems;
}
