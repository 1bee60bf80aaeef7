/**
 * The rules of the migration linter: a catalogue (name → severity, message, safe alternative) and the
 * per-statement checks, which walk libpg-query's AST while tracking which tables exist before / are created in the file.
 */
import type { ColumnDef, Constraint, Node, RangeVar } from 'libpg-query';

export type Severity = 'error' | 'warning';

// prettier-ignore
/**
 * Every rule the linter reports: [severity, message, fix]. The message says what is wrong in one sentence and
 * the fix how to get the same result safely in one line; `{0}`, `{1}`… are filled from the statement.
 */
export const RULES = {
  'adding-field-with-volatile-default': ['error',
    'Adding column {0} to existing table {1} rewrites the whole table under an ACCESS EXCLUSIVE lock: {2}.',
    'Add the column without a default (or with a constant one), then SET DEFAULT and backfill existing rows in batches.'],
  'adding-required-field': ['error',
    'Adding NOT NULL column {0} without a default to existing table {1} fails as soon as the table has rows.',
    'Add it nullable or with a constant DEFAULT, backfill, then enforce NOT NULL via CHECK ... NOT VALID + VALIDATE.'],
  'changing-column-type': ['error',
    'Changing the type of column {0} on existing table {1} can rewrite it and its indexes under an ACCESS EXCLUSIVE lock.',
    'Add a new column of the new type, backfill it in batches, move the app over, then drop the old column later.'],
  'adding-not-null': ['error',
    'SET NOT NULL on column {0} of existing table {1} scans every row under an ACCESS EXCLUSIVE lock.',
    'Add CHECK ({0} IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (which then skips the scan).'],
  'constraint-missing-not-valid': ['error',
    'Adding {0} to existing table {1} without NOT VALID checks every row while blocking writes.',
    'Add the constraint with NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a separate migration.'],
  'adding-unique-constraint': ['error',
    'Adding {0} to existing table {1} builds its index under an ACCESS EXCLUSIVE lock.',
    'CREATE UNIQUE INDEX CONCURRENTLY in its own migration, then ADD CONSTRAINT ... UNIQUE/PRIMARY KEY USING INDEX.'],
  'require-concurrent-index-creation': ['warning',
    'Creating index {0} without CONCURRENTLY on existing table {1} blocks writes to it while the index builds.',
    'Use CREATE INDEX CONCURRENTLY IF NOT EXISTS, in a migration file of its own.'],
  'concurrently-in-transaction': ['warning',
    '{0} CONCURRENTLY cannot run inside a transaction, so the deployer applies this file on its own, after the others.',
    'Keep it alone in its own migration file and make it idempotent (IF [NOT] EXISTS): a failed build leaves an INVALID index.'],
  'ban-drop-column': ['error',
    'Dropping column {0} from {1} breaks deployed code that still uses it and loses its data.',
    'Stop using the column in deployed code first, then drop it in a later migration with a reasoned suppression.'],
  'ban-drop-table': ['error',
    'Dropping table {0} breaks deployed code that still uses it and loses its data.',
    'Stop using the table in deployed code and back it up first, then drop it in a later migration with a reasoned suppression.'],
  'renaming-column': ['error',
    'Renaming column {0} of {1} to {2} breaks deployed code that uses the old name.',
    'Add the new column, write both and backfill, move the app over, then drop the old column in a later migration.'],
  'renaming-table': ['error',
    'Renaming table {0} to {1} breaks deployed code that uses the old name.',
    'Create the new name as a view (or new table) beside the old one, move the app over, then remove the old name later.'],
  'ban-truncate': ['error',
    'TRUNCATE {0} deletes every row irreversibly under an ACCESS EXCLUSIVE lock.',
    'Remove data with a reviewed one-off script or a bounded DELETE, not in a migration.'],
  'table-without-rls': ['error',
    'Table {0} is created in schema public without ENABLE ROW LEVEL SECURITY, so the Supabase API exposes all its rows.',
    'Add ALTER TABLE {0} ENABLE ROW LEVEL SECURITY (and its policies) in the same migration.'],
  'suppression-without-reason': ['error',
    'Suppression {0} gives no reason, so it is ignored.',
    'Write it as: -- crm-env-lint-disable-next-statement <rule>: <why this is safe here>'],
  'unused-suppression': ['warning',
    'Suppression of {0} has no effect: {1}.',
    'Remove it, or correct the rule name and put it directly above the statement it is meant for.'],
} as const satisfies Record<string, readonly [Severity, string, string]>;

export type RuleName = keyof typeof RULES;

/** A rule violation with its message and fix filled in, before file/line/severity are attached. */
export interface RuleHit {
  readonly rule: RuleName;
  readonly message: string;
  readonly fix: string;
}

/** Fills a rule's message and fix templates with `args`. */
export function hit(rule: RuleName, ...args: string[]): RuleHit {
  const fill = (template: string): string =>
    template.replace(/\{(\d)\}/g, (_, i: string) => args[Number(i)] ?? '?');
  return { rule, message: fill(RULES[rule][1]), fix: fill(RULES[rule][2]) };
}

// prettier-ignore
/** Functions that are not VOLATILE, so a column default calling them does not rewrite the table (PG11+). */
const NON_VOLATILE = new Set([
  'now', 'transaction_timestamp', 'statement_timestamp', 'timezone', 'date_trunc', 'extract', 'date_part',
  'make_date', 'make_time', 'make_timestamp', 'make_timestamptz', 'make_interval', 'to_timestamp', 'to_date',
  'to_char', 'current_setting', 'lower', 'upper', 'btrim', 'ltrim', 'rtrim', 'concat', 'concat_ws', 'length',
  'abs', 'round', 'to_json', 'to_jsonb', 'json_build_object', 'jsonb_build_object', 'json_build_array',
  'jsonb_build_array', 'auth.uid', 'auth.role', 'auth.jwt', 'auth.email',
]);

// prettier-ignore
/** Well-known VOLATILE functions, named as such in messages (any other unknown function is assumed volatile). */
const VOLATILE = new Set([
  'random', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'uuidv4', 'uuidv7',
  'clock_timestamp', 'timeofday', 'nextval', 'txid_current',
]);

/** Column constraints that give every existing row a value, so NOT NULL cannot fail. */
const FILLED: readonly string[] = ['CONSTR_DEFAULT', 'CONSTR_IDENTITY', 'CONSTR_GENERATED'];
// prettier-ignore
/** Constraints that check every existing row (`scan`, avoidable with NOT VALID) or build an index (`index`). */
const CONSTRAINT_KINDS: Record<string, readonly [label: string, cost: 'scan' | 'index'] | undefined> = {
  CONSTR_FOREIGN: ['FOREIGN KEY', 'scan'], CONSTR_CHECK: ['CHECK', 'scan'],
  CONSTR_UNIQUE: ['UNIQUE', 'index'], CONSTR_PRIMARY: ['PRIMARY KEY', 'index'], CONSTR_EXCLUSION: ['EXCLUDE', 'index'],
};
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/** Tracks which tables exist while the file's statements are applied in order. Names are 'schema.table'. */
export class TableTracker {
  private readonly existing: Set<string>;
  private readonly created = new Set<string>();
  private readonly rlsEnabled = new Set<string>();
  /** Public tables created in this file → index of the creating statement (for table-without-rls). */
  private readonly needsRls = new Map<string, number>();

  constructor(existingTables: ReadonlySet<string>) {
    this.existing = new Set(existingTables);
  }

  /** True if the table existed before this file (and may be big and busy). */
  isExisting(name: string): boolean {
    return this.existing.has(name);
  }

  /** True if this file created the table, so nothing deployed depends on it yet. */
  createdHere(name: string): boolean {
    return this.created.has(name);
  }

  /** Every table that exists after the statements so far. */
  tables(): Set<string> {
    return new Set([...this.existing, ...this.created]);
  }

  /** Public tables created in this file that never got ENABLE ROW LEVEL SECURITY. */
  missingRls(): [name: string, statementIndex: number][] {
    return [...this.needsRls].filter(([name]) => !this.rlsEnabled.has(name));
  }

  /** Records a CREATE TABLE. Only public tables need RLS (the Supabase API exposes them), temp ones never. */
  create(rel: RangeVar | undefined, ifNotExists: boolean, statementIndex: number): void {
    const name = qualify(rel);
    if (ifNotExists && (this.existing.has(name) || this.created.has(name))) return; // a no-op on the server
    this.existing.delete(name);
    this.created.add(name);
    if (rel?.relpersistence !== 't' && name.startsWith('public.')) this.needsRls.set(name, statementIndex);
  }

  drop(name: string): void {
    for (const set of [this.existing, this.created, this.rlsEnabled]) set.delete(name);
    this.needsRls.delete(name); // created and dropped here: never exposed
  }

  rename(from: string, to: string): void {
    for (const set of [this.existing, this.created, this.rlsEnabled]) {
      if (set.delete(from)) set.add(to);
    }
    const index = this.needsRls.get(from);
    if (index !== undefined) {
      this.needsRls.delete(from);
      this.needsRls.set(to, index);
    }
  }

  enableRls(name: string): void {
    this.rlsEnabled.add(name);
  }
}

/** 'schema.table' for a RangeVar; unqualified names resolve to public, as with the default search_path. */
export function qualify(rel: RangeVar | undefined): string {
  return `${rel?.schemaname ?? 'public'}.${rel?.relname ?? ''}`;
}

function strings(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
}

/** 'schema.table' from a DROP's name list ([table], [schema, table] or [catalog, schema, table]). */
function qualifyNames(names: string[]): string {
  const [table = '', schema = 'public'] = [...names].reverse();
  return `${schema}.${table}`;
}

function constraintsOf(col: ColumnDef): Constraint[] {
  return (col.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : []));
}

/** Names of all functions called anywhere in an expression, without a pg_catalog prefix. */
function calledFunctions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) calledFunctions(item, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'FuncCall') {
        const names = strings((value as { funcname?: Node[] }).funcname);
        out.push((names[0] === 'pg_catalog' ? names.slice(1) : names).join('.'));
      }
      calledFunctions(value, out);
    }
  }
  return out;
}

/** Why adding this column fills every existing row (a table rewrite), or undefined if it does not. */
function rewriteReason(col: ColumnDef, constraints: Constraint[]): string | undefined {
  const typeName = strings(col.typeName?.names).at(-1) ?? '';
  if (SERIAL_TYPES.has(typeName)) return `type ${typeName} has a nextval() default`;
  if (constraints.some((c) => c.contype === 'CONSTR_IDENTITY')) return 'an identity column uses a sequence';
  if (constraints.some((c) => c.contype === 'CONSTR_GENERATED' && c.generated_kind === 's')) {
    return 'a stored generated column is computed for every row'; // PG18 virtual ones are not stored
  }
  const fallback = constraints.find((c) => c.contype === 'CONSTR_DEFAULT');
  // Unknown functions count as volatile: CREATE FUNCTION is VOLATILE unless declared otherwise.
  const fn = calledFunctions(fallback?.raw_expr).find((name) => !NON_VOLATILE.has(name));
  if (fn === undefined) return undefined;
  return VOLATILE.has(fn.split('.').at(-1) ?? '')
    ? `default ${fn}() is volatile`
    : `default calls ${fn}(), which is not known to be non-volatile`;
}

function checkAddColumn(table: string, col: ColumnDef, hits: RuleHit[]): void {
  const constraints = constraintsOf(col);
  const name = col.colname ?? '?';
  const reason = rewriteReason(col, constraints);
  if (reason !== undefined) hits.push(hit('adding-field-with-volatile-default', name, table, reason));
  const required = constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
  const filled = constraints.some((c) => FILLED.includes(c.contype ?? 'CONSTR_NULL'));
  if (required && !filled && reason === undefined) hits.push(hit('adding-required-field', name, table));
  for (const c of constraints) checkNewConstraint(table, c, hits, name);
}

/** ADD CONSTRAINT, or a constraint inline in ADD COLUMN `column`, on an existing table. */
function checkNewConstraint(table: string, c: Constraint, hits: RuleHit[], column?: string): void {
  const [label, cost] = CONSTRAINT_KINDS[c.contype ?? ''] ?? [];
  const what = [label, 'constraint', c.conname, column && `on column ${column}`].filter(Boolean).join(' ');
  if (cost === 'scan' && c.skip_validation !== true) {
    const found = hit('constraint-missing-not-valid', what, table);
    // An inline column constraint cannot say NOT VALID, so it has to become a separate ADD CONSTRAINT.
    const inline =
      'Add the column bare, then ADD CONSTRAINT ... NOT VALID and VALIDATE it in a later migration.';
    hits.push(column === undefined ? found : { ...found, fix: inline });
  }
  if (cost === 'index' && c.indexname === undefined) hits.push(hit('adding-unique-constraint', what, table));
}

/**
 * Checks one statement against the rules, then applies its effect on the tracked tables (so later statements
 * see tables this one created, dropped or renamed).
 */
export function checkStatement(node: Node, index: number, tables: TableTracker): RuleHit[] {
  const hits: RuleHit[] = [];
  if ('AlterTableStmt' in node && node.AlterTableStmt.objtype === 'OBJECT_TABLE') {
    const table = qualify(node.AlterTableStmt.relation);
    const existing = tables.isExisting(table);
    for (const item of node.AlterTableStmt.cmds ?? []) {
      if (!('AlterTableCmd' in item)) continue;
      const { subtype, name: column = '?', def } = item.AlterTableCmd;
      if (subtype === 'AT_EnableRowSecurity') tables.enableRls(table);
      if (subtype === 'AT_DropColumn' && !tables.createdHere(table)) {
        hits.push(hit('ban-drop-column', column, table));
      }
      if (subtype === 'AT_DetachPartition' && def && 'PartitionCmd' in def && def.PartitionCmd.concurrent) {
        hits.push(hit('concurrently-in-transaction', 'DETACH PARTITION'));
      }
      if (!existing) continue; // the remaining rules are about locking/rewriting big, live tables
      if (subtype === 'AT_AddColumn' && def && 'ColumnDef' in def) checkAddColumn(table, def.ColumnDef, hits);
      if (subtype === 'AT_AddConstraint' && def && 'Constraint' in def) {
        checkNewConstraint(table, def.Constraint, hits);
      }
      if (subtype === 'AT_AlterColumnType') hits.push(hit('changing-column-type', column, table));
      if (subtype === 'AT_SetNotNull') hits.push(hit('adding-not-null', column, table));
    }
  } else if ('IndexStmt' in node) {
    const { relation, concurrent, idxname = '(unnamed)' } = node.IndexStmt;
    const table = qualify(relation);
    if (concurrent) hits.push(hit('concurrently-in-transaction', 'CREATE INDEX'));
    else if (tables.isExisting(table)) hits.push(hit('require-concurrent-index-creation', idxname, table));
  } else if ('DropStmt' in node) {
    const { removeType, objects, concurrent } = node.DropStmt;
    if (removeType === 'OBJECT_INDEX' && concurrent)
      hits.push(hit('concurrently-in-transaction', 'DROP INDEX'));
    if (removeType === 'OBJECT_TABLE') {
      const names = (objects ?? []).map((o) => qualifyNames('List' in o ? strings(o.List.items) : []));
      const live = names.filter((n) => !tables.createdHere(n));
      if (live.length > 0) hits.push(hit('ban-drop-table', live.join(', ')));
      for (const n of names) tables.drop(n);
    }
  } else if ('ReindexStmt' in node) {
    const params = node.ReindexStmt.params ?? [];
    if (params.some((p) => 'DefElem' in p && p.DefElem.defname === 'concurrently')) {
      hits.push(hit('concurrently-in-transaction', 'REINDEX'));
    }
  } else if ('RenameStmt' in node) {
    const { renameType, relationType, relation, subname = '?', newname = '?' } = node.RenameStmt;
    const table = qualify(relation);
    const live = !tables.createdHere(table);
    if (renameType === 'OBJECT_COLUMN' && relationType === 'OBJECT_TABLE' && live) {
      hits.push(hit('renaming-column', subname, table, newname));
    }
    if (renameType === 'OBJECT_TABLE') {
      if (live) hits.push(hit('renaming-table', table, newname));
      tables.rename(table, `${relation?.schemaname ?? 'public'}.${newname}`);
    }
  } else if ('TruncateStmt' in node) {
    const live = (node.TruncateStmt.relations ?? [])
      .map((r) => ('RangeVar' in r ? qualify(r.RangeVar) : ''))
      .filter((n) => n !== '' && !tables.createdHere(n));
    if (live.length > 0) hits.push(hit('ban-truncate', live.join(', ')));
  } else if ('CreateStmt' in node) {
    tables.create(node.CreateStmt.relation, node.CreateStmt.if_not_exists === true, index);
  } else if ('CreateTableAsStmt' in node && node.CreateTableAsStmt.objtype === 'OBJECT_TABLE') {
    const { into, if_not_exists } = node.CreateTableAsStmt;
    tables.create(into?.rel, if_not_exists === true, index);
  }
  return hits;
}
