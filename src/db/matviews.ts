/**
 * Materialized views: a push refreshes them after the load (their rows are computed from the tables,
 * so copying the tables leaves them stale), in dependency order, and verify compares their content.
 */
import type { TableInfo } from './catalog.js';
import type { TableChecksum } from './checksum.js';
import { checksumTables } from './checksum.js';
import type { Client } from './connect.js';
import { recalled, remember } from './remembered.js';
import { qualify, quoteLiteral } from './sql.js';

export interface MatviewInfo {
  readonly name: string;
  readonly qualified: string;
  readonly populated: boolean;
  readonly columns: readonly string[];
  /** Materialized views (names) this one reads. */
  readonly dependsOn: readonly string[];
}

/** The materialized views of `schema`, each after the ones it reads. Catalog only. */
export async function readMatviews(client: Client, schema = 'public'): Promise<MatviewInfo[]> {
  const known = recalled<MatviewInfo[]>(client, `matviews:${schema}`);
  if (known) return known;
  const { rows } = await client.query(matviewsSql(schema));
  return matviewsFrom(rows, schema);
}

/** {@link readMatviews}' query: one statement without parameters, to send with others. */
export function matviewsSql(schema: string): string {
  return `select c.relname as name, c.relispopulated as populated,
            array(select a.attname::text from pg_attribute a
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns,
            array(select distinct m.relname::text
                    from pg_rewrite r
                    join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
                    join pg_class m on m.oid = d.refobjid and m.relkind = 'm' and m.oid <> c.oid
                     and m.relnamespace = c.relnamespace
                   where r.ev_class = c.oid) as depends_on
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${quoteLiteral(schema)} and c.relkind = 'm'
      order by 1`;
}

/** The rows of {@link matviewsSql}, each view after those it reads; with `keep`, readMatviews asks no more. */
export function matviewsFrom(
  raw: readonly Record<string, unknown>[],
  schema: string,
  keep?: Client,
): MatviewInfo[] {
  const rows = raw as unknown as {
    name: string;
    populated: boolean;
    columns: string[];
    depends_on: string[];
  }[];
  const byName = new Map(rows.map((r) => [r.name, r]));
  const out: MatviewInfo[] = [];
  const done = new Set<string>();
  const visit = (name: string, seen: Set<string>): void => {
    if (done.has(name) || seen.has(name)) return;
    seen.add(name);
    const r = byName.get(name)!;
    for (const d of r.depends_on) if (byName.has(d)) visit(d, seen);
    done.add(name);
    out.push({
      name,
      qualified: qualify(schema, name),
      populated: r.populated,
      columns: r.columns,
      dependsOn: r.depends_on,
    });
  };
  for (const r of rows) visit(r.name, new Set());
  if (keep) remember(keep, `matviews:${schema}`, out);
  return out;
}

export interface RefreshResult {
  readonly refreshed: readonly string[];
  /** One line per view that could not be refreshed (it keeps its old rows). */
  readonly failed: readonly { readonly view: string; readonly error: string }[];
}

/**
 * Refreshes each view inside the caller's transaction, in dependency order, each under a savepoint:
 * a view that cannot be refreshed (not its owner, a lock timeout, a failing query) is rolled back to
 * its old rows and reported, and the others go on. A view unpopulated in `like` stays unpopulated.
 */
export async function refreshMatviews(
  client: Client,
  views: readonly MatviewInfo[],
  like: readonly MatviewInfo[] = views,
): Promise<RefreshResult> {
  const refreshed: string[] = [];
  const failed: { view: string; error: string }[] = [];
  for (const v of views) {
    const populate = like.find((l) => l.name === v.name)?.populated ?? true;
    try {
      await client.query(
        `savepoint crm_env_matview; refresh materialized view ${v.qualified}${populate ? '' : ' with no data'}; release savepoint crm_env_matview`,
      );
      refreshed.push(v.name);
    } catch (err) {
      await client.query('rollback to savepoint crm_env_matview; release savepoint crm_env_matview');
      failed.push({ view: v.name, error: (err as Error).message });
    }
  }
  return { refreshed, failed };
}

/**
 * Statements for a restore script: refresh each populated view, in order, after the data is back. Each
 * is a block that turns a failure into a WARNING, so a view that cannot be refreshed never fails the
 * restore of the data.
 */
export function refreshStatements(views: readonly MatviewInfo[]): string {
  return views
    .filter((v) => v.populated)
    .map(
      (v) =>
        `DO $crm_env_refresh$ BEGIN REFRESH MATERIALIZED VIEW ${v.qualified}; EXCEPTION WHEN OTHERS THEN RAISE WARNING '%', SQLERRM; END $crm_env_refresh$;\n`,
    )
    .join('');
}

/** Content checksums of the views, as for tables; an unpopulated view has none (`not populated`). */
export async function checksumMatviews(
  client: Client,
  views: readonly MatviewInfo[],
): Promise<TableChecksum[]> {
  const populated = views.filter((v) => v.populated);
  const sums = await checksumTables(client, populated.map(asTable));
  return views.map(
    (v) => sums.find((s) => s.table === v.name) ?? { table: v.name, rows: 0, checksum: 'not populated' },
  );
}

/** The view as the checksum code reads a table: its columns, read by name. */
function asTable(v: MatviewInfo): TableInfo {
  const columns = v.columns.map((name) => ({
    name,
    type: '',
    notNull: false,
    hasDefault: false,
    generated: false,
    identity: null,
  }));
  return {
    schema: '',
    name: v.name,
    qualified: v.qualified,
    partitioned: false,
    source: v.qualified,
    foreignKeys: [],
    columns,
    copyColumns: v.columns,
    primaryKey: [],
    sequences: [],
    references: [],
  };
}
