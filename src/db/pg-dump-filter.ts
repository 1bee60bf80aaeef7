/**
 * Post-processes pg_dump's plain-format output (a stream transform, line by line) so that the file
 * restores with `psql -1 -v ON_ERROR_STOP=1 -f` AS THE SCHEMA OWNER (Supabase's `postgres`, not a
 * superuser), into the database it came from:
 *
 * - `\restrict` / `\unrestrict` lines (pg_dump ≥ 17.6/16.10/15.14) are dropped: older psql clients
 *   and other runners reject unknown meta-commands, and the file's only reader is a restore we control.
 * - A --clean DROP of a partition's inherited constraint or index, which PostgreSQL refuses (the
 *   parent's DROP, next in the file, takes it), is let through ({@link partitionDrop}).
 * - Schemas are kept, never dropped: `DROP SCHEMA` (from --clean) is removed. Dropping `public` needs
 *   its owner, and would also drop its default privileges (Supabase's `ALTER DEFAULT PRIVILEGES …
 *   IN SCHEMA public GRANT … TO anon, authenticated`) and its grants, which nobody would put back.
 *   `CREATE SCHEMA x` becomes a block that creates `x` only when it is missing (after a `drop schema
 *   public cascade`, say) and then remembers that it did (the session setting crm_env.created_schemas).
 * - The schema's own entries — COMMENT ON SCHEMA, its ACL, and the DEFAULT ACL in it — run only for
 *   a schema the file re-created (an existing schema keeps its own); a DEFAULT ACL `FOR ROLE r` only
 *   when the restoring role is a member of r (`supabase_admin`'s need that role).
 * - Other entries are commented out: EXTENSION and COMMENT ON EXTENSION (Supabase-managed), DEFAULT ACL
 *   outside a schema, and SET/RESET SESSION AUTHORIZATION around grants (superuser only; the restoring
 *   owner grants instead).
 *
 * - Before the first object ACL, one DO block resets the privileges of every relation and routine the
 *   file re-created to PostgreSQL's defaults. Without it, re-created objects would also carry the
 *   schema's default privileges (on Supabase: ALL to anon and authenticated), which pg_dump's grants,
 *   written relative to the built-in defaults, never revoke; with it, the grants that follow
 *   reproduce the backed-up privileges exactly. Objects the file does not create are not touched.
 *
 * pg_dump precedes every object's statements with a header `-- Name: …; Type: …; Schema: …; Owner: …`,
 * which is what this filter keys on; the `--clean` DROPs come before the first header. COPY data is
 * passed through untouched (a data line may look like anything).
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

const HEADER = /^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/;
const RELATION_TYPES = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'SEQUENCE', 'FOREIGN TABLE']);
const ROUTINE_TYPES = new Set(['FUNCTION', 'PROCEDURE', 'AGGREGATE']);

/** A string literal; pg_dump output sets standard_conforming_strings = on. */
const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The DO block that resets the privileges of the listed objects to the built-in defaults (owner only;
 * plus EXECUTE for PUBLIC on routines). Header names are unquoted: relations are matched by name,
 * routines resolved from `name(argument types)`, both within their schema.
 */
export function aclResetBlock(
  relations: readonly (readonly [string, string])[],
  routines: readonly (readonly [string, string])[],
): string {
  const rels = relations.map(([s, n]) => `(${lit(s)}, ${lit(n)})`).join(', ');
  const fns = routines.map(([s, sig]) => {
    const open = sig.indexOf('(');
    return `(${lit(s)}, ${lit(sig.slice(0, open))}, ${lit(sig.slice(open))})`;
  });
  const selects: string[] = [];
  if (rels) {
    selects.push(`SELECT c.oid::regclass::text AS obj, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.relacl AS acl, c.relowner AS owner
      FROM (VALUES ${rels}) AS v(s, n)
      JOIN pg_catalog.pg_namespace ns ON ns.nspname = v.s
      JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = v.n`);
  }
  if (fns.length > 0) {
    selects.push(`SELECT p.oid::regprocedure::text, 'ROUTINE', p.proacl, p.proowner
      FROM (VALUES ${fns.join(', ')}) AS v(s, n, a)
      JOIN pg_catalog.pg_proc p ON p.oid = pg_catalog.to_regprocedure(pg_catalog.format('%I.%I%s', v.s, v.n, v.a))`);
  }
  return `-- crm-env: reset the privileges of the objects re-created above to the built-in defaults, so that the
-- grants below reproduce the backed-up privileges exactly (re-created objects also got the schema's
-- default privileges, which the grants below would not revoke).
DO $crm_env_acl$
DECLARE o record; g record;
BEGIN
  FOR o IN
    ${selects.join('\n    UNION ALL\n    ')}
  LOOP
    FOR g IN SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode(o.acl) AS a WHERE a.grantee <> o.owner LOOP
      EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %s', o.kind, o.obj,
        CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END);
    END LOOP;
    IF o.kind = 'ROUTINE' AND o.acl IS NOT NULL THEN
      EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO PUBLIC', o.obj);
    END IF;
  END LOOP;
END
$crm_env_acl$;
`;
}

export interface DumpFilterOptions {
  /**
   * SQL inserted before the first table's data (the data-only backup's TRUNCATE, test users' auth
   * rows), or at the end when the dump has no data; it ends with a newline.
   */
  readonly beforeData?: string;
  /** SQL appended at the end of the file (a data-only backup's view refreshes); ends with a newline. */
  readonly atEnd?: string;
}

/** Why an entry is commented out, or null to keep it. */
function skipReason(name: string, type: string, schema: string): string | null {
  if (type === 'EXTENSION' || (type === 'COMMENT' && name.startsWith('EXTENSION ')))
    return 'extensions are managed by Supabase';
  if (type === 'DEFAULT ACL' && schema === '-') return 'default privileges outside the backed-up schemas';
  return null;
}

/** The schema whose own entry this is (COMMENT/ACL on it, DEFAULT ACL in it): run only if re-created. */
function ownSchema(name: string, type: string, schema: string): string | null {
  if ((type === 'COMMENT' || type === 'ACL') && name.startsWith('SCHEMA ')) return name.slice(7);
  if (type === 'DEFAULT ACL' && schema !== '-') return schema;
  return null;
}

const CREATED = `pg_catalog.string_to_array(pg_catalog.current_setting('crm_env.created_schemas', true), ',')`;

/** `CREATE SCHEMA x;` as a block that creates the schema only when missing and records that it did. */
export function createSchemaBlock(written: string, name: string): string {
  return `DO $crm_env_schema$ BEGIN IF pg_catalog.to_regnamespace(${lit(written)}) IS NULL THEN CREATE SCHEMA ${written}; PERFORM pg_catalog.set_config('crm_env.created_schemas', pg_catalog.concat_ws(',', pg_catalog.current_setting('crm_env.created_schemas', true), ${lit(name)}), false); END IF; END $crm_env_schema$;`;
}

/** A one-line statement of a schema's own entry, run only if the file re-created that schema. */
export function ifSchemaCreated(schema: string, statement: string): string {
  const role = /^ALTER DEFAULT PRIVILEGES FOR ROLE ("(?:[^"]|"")*"|\S+)/.exec(statement)?.[1];
  const roleName = role?.startsWith('"') ? role.slice(1, -1).replace(/""/g, '"') : role;
  const member = roleName
    ? ` AND EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = ${lit(roleName)} AND pg_catalog.pg_has_role(r.oid, 'MEMBER'))`
    : '';
  return `DO $crm_env_schema$ BEGIN IF ${lit(schema)} = ANY (${CREATED})${member} THEN EXECUTE ${lit(statement.replace(/;$/, ''))}; END IF; END $crm_env_schema$;`;
}

/**
 * A --clean DROP that fails on a partition: pg_dump drops a partition's constraints and indexes before
 * its parent's, but those inherited from the partitioned parent can only go with the parent's (which
 * the file drops next). Such a DROP becomes a block that lets that one refusal pass; null otherwise.
 */
export function partitionDrop(text: string): string | null {
  const sqlstate = /^ALTER TABLE IF EXISTS ONLY \S.* DROP CONSTRAINT IF EXISTS \S.*;$/.test(text)
    ? 'invalid_table_definition' // cannot drop inherited constraint
    : /^DROP INDEX IF EXISTS \S.*;$/.test(text)
      ? 'dependent_objects_still_exist' // index … requires it
      : null;
  if (sqlstate === null) return null;
  return `DO $crm_env_drop$ BEGIN EXECUTE ${lit(text.replace(/;$/, ''))}; EXCEPTION WHEN ${sqlstate} THEN NULL; END $crm_env_drop$;`;
}

/** The line-level rules, separate from the stream plumbing so that tests can call them directly. */
export class DumpFilter {
  private inCopy = false;
  private seenHeader = false;
  private entry: { name: string; type: string; skip: string | null; own: string | null } | null = null;
  private beforeData: string | undefined;
  private readonly atEnd: string | undefined;
  private readonly relations: [string, string][] = [];
  private readonly routines: [string, string][] = [];
  private aclResetDone = false;

  constructor(options: DumpFilterOptions = {}) {
    this.beforeData = options.beforeData;
    this.atEnd = options.atEnd;
  }

  /** The output for one input line (without `\n`): the line itself, a replacement, or nothing. */
  line(text: string): string | null {
    if (this.inCopy) {
      if (text === '\\.') this.inCopy = false;
      return text;
    }
    if (/^\\(un)?restrict\b/.test(text)) return null;
    const header = HEADER.exec(text);
    if (header) {
      this.seenHeader = true;
      const [, name, type] = header as unknown as [string, string, string];
      const schema = header[3]!;
      this.entry = {
        name,
        type,
        skip: skipReason(name, type, schema),
        own: ownSchema(name, type, schema),
      };
      if (RELATION_TYPES.has(type)) this.relations.push([schema, name]);
      if (ROUTINE_TYPES.has(type) && name.includes('(')) this.routines.push([schema, name]);
      if (type === 'ACL' && this.entry.skip === null) {
        const reset = this.aclReset();
        if (reset) return `${reset}\n${text}`;
      }
      if (type === 'TABLE DATA' && this.beforeData !== undefined) {
        const sql = this.beforeData;
        this.beforeData = undefined;
        return `${sql.replace(/\n*$/, '\n\n')}${text}`;
      }
      return text;
    }
    if (!this.seenHeader) {
      // The --clean section: every DROP of the dump, before the first object header.
      if (/^DROP (SCHEMA|EXTENSION) /.test(text)) return `-- crm-env kept: ${text}`;
      return partitionDrop(text) ?? text;
    }
    const entry = this.entry;
    if (entry === null || text === '' || text === '--') return text;
    if (entry.skip !== null) return `-- crm-env skipped (${entry.skip}): ${text}`;
    if (entry.type === 'SCHEMA') {
      const m = /^CREATE SCHEMA (.+);$/.exec(text);
      if (m) return createSchemaBlock(m[1]!, entry.name);
    }
    if (/^(RE)?SET SESSION AUTHORIZATION\b/.test(text)) return `-- crm-env skipped: ${text}`;
    if (entry.own !== null) {
      return /^(GRANT|REVOKE|COMMENT ON SCHEMA|ALTER DEFAULT PRIVILEGES) .*;$/.test(text)
        ? ifSchemaCreated(entry.own, text)
        : `-- crm-env skipped (not one statement on one line): ${text}`;
    }
    if (entry.type === 'TABLE DATA' && /^COPY .* FROM stdin;$/.test(text)) this.inCopy = true;
    return text;
  }

  /** What is left for the end of the file: `beforeData` when the dump had no data, the ACL reset, `atEnd`. */
  finish(): string | null {
    const rest = [this.beforeData ?? '', this.aclReset() ?? '', this.atEnd ?? ''].filter(Boolean);
    this.beforeData = undefined;
    return rest.length > 0 ? `\n${rest.join('\n')}` : null;
  }

  /** The ACL reset, once, if the file re-created anything; at the first object ACL or at the end. */
  aclReset(): string | null {
    if (this.aclResetDone || (this.relations.length === 0 && this.routines.length === 0)) return null;
    this.aclResetDone = true;
    return aclResetBlock(this.relations, this.routines);
  }
}

/** A Transform applying {@link DumpFilter} to a byte stream of pg_dump output. */
export function dumpFilterStream(options: DumpFilterOptions = {}): Transform {
  const filter = new DumpFilter(options);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const emit = (lines: string[], push: (s: string) => void): void => {
    const out: string[] = [];
    for (const l of lines) {
      const r = filter.line(l);
      if (r !== null) out.push(r, '\n');
    }
    if (out.length > 0) push(out.join(''));
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      emit(lines, (s) => this.push(s));
      cb();
    },
    flush(cb: TransformCallback) {
      const last = rest + decoder.end();
      if (last !== '') {
        const r = filter.line(last);
        if (r !== null) this.push(`${r}\n`);
      }
      const end = filter.finish();
      if (end) this.push(end);
      cb();
    },
  });
}
