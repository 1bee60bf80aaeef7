/**
 * The rules of the migration linter: a catalogue (name → severity, message, safe alternative) and the
 * per-statement checks, which walk libpg-query's AST while tracking which tables exist before / are created in the file.
 */
import type {
  AlterTableCmd,
  AlterTableStmt,
  ColumnDef,
  Constraint,
  DropStmt,
  Node,
  RangeVar,
  RenameStmt,
} from 'libpg-query';
import type { ColumnType } from './column-types.js';
import { showType, typeChangeKeepsTable, typeChangeLoss, typeFromAst, usingKind } from './column-types.js';
import { outsideTransactionKind } from './outside-transaction.js';

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
    '{0} CONCURRENTLY cannot run inside a transaction, so this file is applied on its own, statement by statement, after the others: {1}.',
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
  'ban-drop-schema': ['error',
    'Dropping schema {0} removes every table, row, function and policy in it, including objects no migration names.',
    'Drop the objects that must go by name (each with a reasoned suppression); never drop a schema in a migration.'],
  'ban-drop-cascade': ['error',
    'DROP {0} ... CASCADE also drops every object that depends on {1} (views, policies, foreign keys, triggers), unnamed and unseen.',
    'Drop the dependent objects by name first, then drop {1} without CASCADE, so a forgotten dependency fails instead of vanishing.'],
  'ban-delete-without-where': ['error',
    'DELETE without WHERE removes every row of {0}.',
    'Add a WHERE clause naming the rows to remove, or suppress with the reason why every row must go.'],
  'ban-update-without-where': ['error',
    'UPDATE without WHERE overwrites column(s) {1} in every row of {0}.',
    'Add a WHERE clause naming the rows to change, or suppress with the reason why every row must change.'],
  'lossy-column-type-change': ['error',
    'Changing column {0} of {1} to {2} can lose data: {3}.',
    'Add a new column of the new type, copy and check the values, move the app over, then drop the old column later; or suppress with the reason no value changes.'],
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

/** Column types per 'schema.table'. */
export type ColumnTypes = ReadonlyMap<string, ReadonlyMap<string, ColumnType>>;

/** What a file sees before it runs: the tables that exist and, where known, their columns' types. */
export interface KnownSchema {
  readonly tables: ReadonlySet<string>;
  readonly columns: ColumnTypes;
  /** Partitions (and inheritance children) → their parent: dropping the parent drops them. */
  readonly children?: ReadonlyMap<string, string>;
}

/** Tracks which tables (and columns) exist while the file's statements are applied in order. Names are 'schema.table'. */
export class TableTracker {
  private readonly existing: Set<string>;
  private readonly created = new Set<string>();
  private readonly rlsEnabled = new Set<string>();
  /** Public tables created in this file → index of the creating statement (for table-without-rls). */
  private readonly needsRls = new Map<string, number>();
  private readonly columns: Map<string, Map<string, ColumnType>>;
  /** Partition → partitioned parent, inheritance child → parent: a DROP of the parent takes them. */
  private readonly children: Map<string, string>;

  constructor(
    existingTables: ReadonlySet<string>,
    existingColumns: ColumnTypes = new Map(),
    existingChildren: ReadonlyMap<string, string> = new Map(),
  ) {
    this.existing = new Set(existingTables);
    this.columns = new Map([...existingColumns].map(([t, cols]) => [t, new Map(cols)]));
    this.children = new Map(existingChildren);
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

  /** Tables and column types after the statements so far. */
  schema(): KnownSchema {
    return { tables: this.tables(), columns: new Map(this.columns), children: new Map(this.children) };
  }

  /** Public tables created in this file that never got ENABLE ROW LEVEL SECURITY. */
  missingRls(): [name: string, statementIndex: number][] {
    return [...this.needsRls].filter(([name]) => !this.rlsEnabled.has(name));
  }

  /** Records a CREATE TABLE. Only public tables need RLS (the Supabase API exposes them), temp ones never. */
  create(
    rel: RangeVar | undefined,
    ifNotExists: boolean,
    statementIndex: number,
    cols: ColumnDef[] = [],
  ): void {
    const name = qualify(rel);
    if (ifNotExists && (this.existing.has(name) || this.created.has(name))) return; // a no-op on the server
    this.existing.delete(name);
    this.created.add(name);
    this.columns.set(name, new Map(cols.map((c) => [c.colname ?? '', typeFromAst(c.typeName)])));
    if (rel?.relpersistence !== 't' && name.startsWith('public.')) this.needsRls.set(name, statementIndex);
  }

  /** Records a partition (PARTITION OF, ATTACH) or an inheritance child (INHERITS) of `parent`. */
  setParent(child: string, parent: string | undefined): void {
    if (parent === undefined) this.children.delete(child);
    else this.children.set(child, parent);
  }

  /** Drops the table and, as the server does, its partitions (and, when it cascades, its children). */
  drop(name: string): void {
    for (const [child, parent] of [...this.children]) if (parent === name) this.drop(child);
    this.children.delete(name);
    for (const set of [this.existing, this.created, this.rlsEnabled]) set.delete(name);
    this.columns.delete(name);
    this.needsRls.delete(name); // created and dropped here: never exposed
  }

  rename(from: string, to: string): void {
    for (const set of [this.existing, this.created, this.rlsEnabled]) {
      if (set.delete(from)) set.add(to);
    }
    const cols = this.columns.get(from);
    this.columns.delete(from);
    if (cols) this.columns.set(to, cols);
    const index = this.needsRls.get(from);
    if (index !== undefined) {
      this.needsRls.delete(from);
      this.needsRls.set(to, index);
    }
  }

  enableRls(name: string): void {
    this.rlsEnabled.add(name);
  }

  /** The column's type when a CREATE TABLE, ADD COLUMN, ALTER TYPE or the target's catalog said it. */
  columnType(table: string, column: string): ColumnType | undefined {
    return this.columns.get(table)?.get(column);
  }

  /** Records a column's new type (undefined: dropped). Columns of tables never described stay unknown. */
  setColumn(table: string, column: string, type: ColumnType | undefined): void {
    const cols = this.columns.get(table) ?? new Map<string, ColumnType>();
    if (type === undefined) cols.delete(column);
    else cols.set(column, type);
    this.columns.set(table, cols);
  }

  renameColumn(table: string, from: string, to: string): void {
    const type = this.columnType(table, from);
    this.setColumn(table, from, undefined);
    if (type) this.setColumn(table, to, type);
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

/** ALTER COLUMN … TYPE: data loss on any table with rows, the rewrite on existing ones; then the new type. */
function checkTypeChange(table: string, cmd: AlterTableCmd, tables: TableTracker, hits: RuleHit[]): void {
  const column = cmd.name ?? '?';
  const def = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
  const to = typeFromAst(def?.typeName);
  const from = tables.columnType(table, column);
  const using = usingKind(def?.raw_default);
  if (!tables.createdHere(table)) {
    const loss = typeChangeLoss(from, to, using);
    if (loss !== undefined) hits.push(hit('lossy-column-type-change', column, table, showType(to), loss));
  }
  if (tables.isExisting(table) && !typeChangeKeepsTable(from, to, using)) {
    hits.push(hit('changing-column-type', column, table));
  }
  tables.setColumn(table, column, to);
}

function checkAlterTable(stmt: AlterTableStmt, tables: TableTracker, hits: RuleHit[]): void {
  const table = qualify(stmt.relation);
  const existing = tables.isExisting(table);
  for (const item of stmt.cmds ?? []) {
    if (!('AlterTableCmd' in item)) continue;
    const cmd = item.AlterTableCmd;
    const { subtype, name: column = '?', def } = cmd;
    if (subtype === 'AT_EnableRowSecurity') tables.enableRls(table);
    const partition = def && 'PartitionCmd' in def ? def.PartitionCmd.name : undefined;
    if (subtype === 'AT_AttachPartition' && partition) tables.setParent(qualify(partition), table);
    if (subtype === 'AT_DetachPartition' && partition) tables.setParent(qualify(partition), undefined);
    if (subtype === 'AT_DropColumn') {
      if (!tables.createdHere(table)) hits.push(hit('ban-drop-column', column, table));
      tables.setColumn(table, column, undefined);
    }
    if (subtype === 'AT_AlterColumnType') checkTypeChange(table, cmd, tables, hits);
    const added = subtype === 'AT_AddColumn' && def && 'ColumnDef' in def ? def.ColumnDef : undefined;
    if (added) tables.setColumn(table, added.colname ?? '?', typeFromAst(added.typeName));
    if (!existing) continue; // the remaining rules are about locking/rewriting big, live tables
    if (added) checkAddColumn(table, added, hits);
    if (subtype === 'AT_AddConstraint' && def && 'Constraint' in def) {
      checkNewConstraint(table, def.Constraint, hits);
    }
    if (subtype === 'AT_SetNotNull') hits.push(hit('adding-not-null', column, table));
  }
}

/** DROP: tables (data), schemas, and CASCADE on anything not created in this file. */
function checkDrop(stmt: DropStmt, tables: TableTracker, hits: RuleHit[]): void {
  const { removeType, objects, behavior } = stmt;
  const names = (objects ?? []).map((o) =>
    'List' in o ? qualifyNames(strings(o.List.items)) : 'String' in o ? (o.String.sval ?? '') : '?',
  );
  const kind = (removeType ?? 'OBJECT_').replace(/^OBJECT_/, '').replace(/_/g, ' ');
  const live = removeType === 'OBJECT_TABLE' ? names.filter((n) => !tables.createdHere(n)) : names;
  if (removeType === 'OBJECT_TABLE' && live.length > 0) hits.push(hit('ban-drop-table', live.join(', ')));
  if (removeType === 'OBJECT_SCHEMA') hits.push(hit('ban-drop-schema', names.join(', ')));
  if (behavior === 'DROP_CASCADE' && live.length > 0)
    hits.push(hit('ban-drop-cascade', kind, live.join(', ')));
  // A dropped schema is not followed: the tables the migrations created in it stay expected, so the
  // post-migration checks fail unless they were dropped by name.
  if (removeType === 'OBJECT_TABLE') for (const n of names) tables.drop(n);
}

/** DELETE / UPDATE without WHERE on a table that may hold rows. */
function checkDml(node: Node, tables: TableTracker, hits: RuleHit[]): void {
  if ('DeleteStmt' in node && node.DeleteStmt.whereClause === undefined) {
    const table = qualify(node.DeleteStmt.relation);
    if (!tables.createdHere(table)) hits.push(hit('ban-delete-without-where', table));
  }
  if ('UpdateStmt' in node && node.UpdateStmt.whereClause === undefined) {
    const table = qualify(node.UpdateStmt.relation);
    const columns = (node.UpdateStmt.targetList ?? []).map((t) =>
      'ResTarget' in t ? t.ResTarget.name : '?',
    );
    if (!tables.createdHere(table)) hits.push(hit('ban-update-without-where', table, columns.join(', ')));
  }
}

function checkRename(stmt: RenameStmt, tables: TableTracker, hits: RuleHit[]): void {
  const { renameType, relationType, relation, subname = '?', newname = '?' } = stmt;
  const table = qualify(relation);
  const live = !tables.createdHere(table);
  if (renameType === 'OBJECT_COLUMN' && relationType === 'OBJECT_TABLE') {
    if (live) hits.push(hit('renaming-column', subname, table, newname));
    tables.renameColumn(table, subname, newname);
  }
  if (renameType === 'OBJECT_TABLE') {
    if (live) hits.push(hit('renaming-table', table, newname));
    tables.rename(table, `${relation?.schemaname ?? 'public'}.${newname}`);
  }
}

/**
 * Checks one statement against the rules, then applies its effect on the tracked tables (so later statements
 * see tables this one created, dropped or renamed). The CONCURRENTLY rule needs the whole file: see
 * {@link checkOutsideTransaction}.
 */
export function checkStatement(node: Node, index: number, tables: TableTracker): RuleHit[] {
  const hits: RuleHit[] = [];
  if ('AlterTableStmt' in node && node.AlterTableStmt.objtype === 'OBJECT_TABLE') {
    checkAlterTable(node.AlterTableStmt, tables, hits);
  } else if ('IndexStmt' in node) {
    const { relation, concurrent, idxname = '(unnamed)' } = node.IndexStmt;
    const table = qualify(relation);
    if (!concurrent && tables.isExisting(table)) {
      hits.push(hit('require-concurrent-index-creation', idxname, table));
    }
  } else if ('DropStmt' in node) {
    checkDrop(node.DropStmt, tables, hits);
  } else if ('RenameStmt' in node) {
    checkRename(node.RenameStmt, tables, hits);
  } else if ('TruncateStmt' in node) {
    const live = (node.TruncateStmt.relations ?? [])
      .map((r) => ('RangeVar' in r ? qualify(r.RangeVar) : ''))
      .filter((n) => n !== '' && !tables.createdHere(n));
    if (live.length > 0) hits.push(hit('ban-truncate', live.join(', ')));
  } else if ('DeleteStmt' in node || 'UpdateStmt' in node) {
    checkDml(node, tables, hits);
  } else if ('CreateStmt' in node) {
    const { relation, if_not_exists, tableElts, inhRelations } = node.CreateStmt;
    const cols = (tableElts ?? []).flatMap((e) => ('ColumnDef' in e ? [e.ColumnDef] : []));
    tables.create(relation, if_not_exists === true, index, cols);
    const parent = (inhRelations ?? []).flatMap((r) => ('RangeVar' in r ? [qualify(r.RangeVar)] : []))[0];
    if (parent) tables.setParent(qualify(relation), parent);
  } else if ('CreateTableAsStmt' in node && node.CreateTableAsStmt.objtype === 'OBJECT_TABLE') {
    const { into, if_not_exists } = node.CreateTableAsStmt;
    tables.create(into?.rel, if_not_exists === true, index);
  }
  return hits;
}

/** What the statement is short for in the CONCURRENTLY message: 'CREATE INDEX', 'REINDEX'… */
function concurrentlyWhat(kind: string): string {
  return kind.replace(/ CONCURRENTLY$/, '');
}

/** Why a statement that must run outside a transaction is not re-runnable, or undefined. */
function notIdempotent(node: Node): string | undefined {
  if ('IndexStmt' in node && node.IndexStmt.if_not_exists !== true) {
    return 'without IF NOT EXISTS, a re-run after a failed build stops at the index it left behind';
  }
  if ('DropStmt' in node && node.DropStmt.missing_ok !== true) {
    return 'without IF EXISTS, a re-run fails once the index is gone';
  }
  return undefined;
}

/**
 * The file-level rule for statements that cannot run in a transaction (CONCURRENTLY and the like): such a
 * file is applied on its own, statement by statement. That is correct when the file holds only such
 * statements and each can be re-run; it warns (concurrently-in-transaction, on each CONCURRENTLY statement)
 * when the file mixes in other statements, which then lose the all-or-nothing guarantee, or when a
 * CREATE/DROP INDEX CONCURRENTLY lacks IF [NOT] EXISTS. Returns hits per statement index.
 */
export function checkOutsideTransaction(statements: readonly Node[]): Map<number, RuleHit[]> {
  const kinds = statements.map((s) => outsideTransactionKind(s));
  const mixed = kinds.some((k) => k === undefined) && kinds.some((k) => k !== undefined);
  const out = new Map<number, RuleHit[]>();
  kinds.forEach((kind, index) => {
    if (kind === undefined || !kind.endsWith('CONCURRENTLY')) return;
    const why = mixed
      ? 'the other statements in this file lose the all-or-nothing guarantee'
      : notIdempotent(statements[index]!);
    if (why !== undefined) out.set(index, [hit('concurrently-in-transaction', concurrentlyWhat(kind), why)]);
  });
  return out;
}
