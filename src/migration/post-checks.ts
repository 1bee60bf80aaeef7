/**
 * Post-migration checks, shared by `migrate validate` (on the rehearsal database), `migrate deploy` (on the
 * target, after applying) and CI. They look at what the Supabase API would expose, not at what the files say:
 * - every public table has row-level security enabled and at least one policy (RLS without a policy means
 *   the API roles see nothing, which is safe but almost always a forgotten policy);
 * - every table the migrations create exists — "expected" is derived from the files themselves, so there is
 *   no hand-kept list to drift;
 * - the migration history holds exactly the versions of the local files.
 * Deploy runs them INSIDE its transaction, before COMMIT, so that a failure rolls everything back; files that
 * can only run after that transaction (CONCURRENTLY and the like) are passed as `runLater` and not expected
 * yet. A DROP SCHEMA is not followed by the expected tables: dropping a schema that holds tables the
 * migrations created fails `expected-tables` unless the tables were dropped by name.
 */
import type { Client } from '../db/connect.js';
import type { MigrationFile } from './files.js';
import { readHistory } from './history.js';
import { schemaAfterMigration } from './lint.js';
import type { KnownSchema } from './lint-rules.js';

/** One check and what it found. `detail` is one line for humans, naming the offending objects. */
export interface PostCheck {
  readonly name: 'rls-enabled' | 'policies' | 'expected-tables' | 'history-matches-files';
  readonly ok: boolean;
  readonly detail: string;
}

export interface PostCheckReport {
  readonly checks: readonly PostCheck[];
  readonly ok: boolean;
}

/**
 * The tables (`schema.table`) left behind by applying every file in order from an empty database: created
 * ones added, dropped and renamed ones followed. Temporary tables are not expected to survive.
 */
export async function expectedTables(files: readonly MigrationFile[]): Promise<string[]> {
  // The whole schema travels from file to file, so a partition created in one file goes with its
  // parent dropped in a later one.
  let schema: KnownSchema = { tables: new Set(), columns: new Map() };
  for (const f of files) schema = await schemaAfterMigration(f.fileName, f.sql, schema);
  return [...schema.tables].sort();
}

interface TableRow {
  name: string;
  rls: boolean;
  policies: number;
}

/** Lists at most a few names, so a detail line stays one line on a big schema. */
function list(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * Runs every check on the database `client` is connected to. Read-only; takes no table locks (catalog
 * queries only), so it can run right after a deploy on a busy database.
 */
export async function runPostChecks(
  client: Client,
  files: readonly MigrationFile[],
  options: { readonly runLater?: readonly MigrationFile[] } = {},
): Promise<PostCheckReport> {
  const later = new Set((options.runLater ?? []).map((f) => f.fileName));
  const now = files.filter((f) => !later.has(f.fileName));
  const { rows } = await client.query<TableRow>(
    `select n.nspname || '.' || c.relname as name, c.relrowsecurity as rls,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and c.relpersistence <> 't'
      order by 1`,
  );
  const publicTables = rows.filter((r) => r.name.startsWith('public.'));
  const existing = new Set(rows.map((r) => r.name));
  const checks: PostCheck[] = [];

  const noRls = publicTables.filter((r) => !r.rls).map((r) => r.name);
  checks.push({
    name: 'rls-enabled',
    ok: noRls.length === 0,
    detail:
      noRls.length === 0
        ? `row-level security is on for all ${publicTables.length} public tables`
        : `row-level security is off (the API exposes every row) on ${list(noRls)}`,
  });

  const noPolicy = publicTables.filter((r) => r.policies === 0).map((r) => r.name);
  checks.push({
    name: 'policies',
    ok: noPolicy.length === 0,
    detail:
      noPolicy.length === 0
        ? `every public table has at least one policy`
        : `no policy (the API roles can read nothing) on ${list(noPolicy)}`,
  });

  const expected = await expectedTables(now);
  const missing = expected.filter((t) => !existing.has(t));
  checks.push({
    name: 'expected-tables',
    ok: missing.length === 0,
    detail:
      missing.length === 0
        ? `all ${expected.length} tables the migrations create exist`
        : `missing tables that the migrations create: ${list(missing)}`,
  });

  const history = new Set((await readHistory(client)).map((h) => h.version));
  const local = new Set(now.map((f) => f.version));
  const notApplied = [...local].filter((v) => !history.has(v)).sort();
  const noFile = [...history].filter((v) => !local.has(v)).sort();
  const problems = [
    notApplied.length > 0 ? `not in the history: ${list(notApplied)}` : '',
    noFile.length > 0 ? `in the history without a local file: ${list(noFile)}` : '',
  ].filter(Boolean);
  checks.push({
    name: 'history-matches-files',
    ok: problems.length === 0,
    detail:
      problems.length === 0 ? `history has exactly the ${local.size} local versions` : problems.join('; '),
  });

  return { checks, ok: checks.every((c) => c.ok) };
}
