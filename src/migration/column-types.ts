/**
 * Column types as the linter compares them: read from the parser's AST (`TypeName`) or from the catalog
 * (`format_type()`), in one canonical form, and the two questions asked of an `ALTER COLUMN … TYPE`:
 * can it lose data, and does it rewrite the table.
 *
 * What counts as losing data (the `lossy-column-type-change` rule): a conversion PostgreSQL performs
 * SILENTLY while changing values — rounding (numeric scale, float → integer, fewer fractional seconds),
 * cutting (timestamp → date, an explicit cast to varchar(n)), reinterpreting (json → jsonb drops duplicate
 * keys and key order; timestamptz → timestamp drops the instant), or anything a USING expression computes.
 * Not counted: conversions that keep every value (int4 → int8, varchar(n) → text or a longer varchar,
 * numeric(p,s) → numeric(p+k,s), date → timestamp, any type → text), and narrowings PostgreSQL CHECKS
 * (varchar(20) → varchar(10), int8 → int4, text → int): those fail on the first value that does not fit,
 * so the deploy's dry run fails and nothing changes. The one loss this lets through: trailing spaces cut
 * when a longer value is assigned to varchar(n)/char(n) — PostgreSQL treats them as insignificant.
 */
import type { Node, TypeName } from 'libpg-query';

/** A column type: internal name (int4, varchar, timestamptz, or a user type as written), modifiers, array. */
export interface ColumnType {
  readonly name: string;
  /** Type modifiers: varchar(20) → [20], numeric(10,2) → [10, 2], timestamptz(3) → [3]; [] when none. */
  readonly mods: readonly number[];
  readonly array: boolean;
}

// prettier-ignore
/** SQL spellings (format_type, the grammar) → internal names. */
const ALIASES: Record<string, string> = {
  integer: 'int4', int: 'int4', smallint: 'int2', bigint: 'int8', real: 'float4', 'double precision': 'float8',
  decimal: 'numeric', 'character varying': 'varchar', character: 'bpchar', char: 'bpchar', boolean: 'bool',
  'bit varying': 'varbit', 'timestamp without time zone': 'timestamp', 'timestamp with time zone': 'timestamptz',
  'time without time zone': 'time', 'time with time zone': 'timetz',
};

const STRINGS = new Set(['text', 'varchar', 'bpchar']);
const TIMES = new Set(['timestamp', 'timestamptz', 'time', 'timetz']);

/** Conversions between different types that keep every value (or fail loudly), without USING. */
// prettier-ignore
const SAFE_CHANGES = new Set([
  'int2>int4', 'int2>int8', 'int2>numeric', 'int2>float4', 'int2>float8', 'int4>int8', 'int4>numeric',
  'int4>float8', 'int8>numeric', 'float4>float8', 'date>timestamp', 'date>timestamptz',
  'timestamp>timestamptz', 'time>timetz', 'jsonb>json', 'int8>int4', 'int8>int2', 'int4>int2', 'varbit>bit',
  'bit>varbit', 'cidr>inet',
]);

/** The type of a column definition or ALTER COLUMN … TYPE, from the AST. */
export function typeFromAst(t: TypeName | undefined): ColumnType {
  const names = (t?.names ?? []).map((n: Node) => ('String' in n ? (n.String.sval ?? '') : ''));
  const bare = names[0] === 'pg_catalog' ? names.slice(1) : names;
  const mods = (t?.typmods ?? []).flatMap((m: Node) =>
    'A_Const' in m && m.A_Const.ival !== undefined ? [m.A_Const.ival.ival ?? 0] : [],
  );
  const name = bare.join('.').toLowerCase();
  return { name: ALIASES[name] ?? name, mods, array: (t?.arrayBounds ?? []).length > 0 };
}

/** The type of a column as `format_type(atttypid, atttypmod)` prints it. */
export function typeFromCatalog(formatted: string): ColumnType {
  let text = formatted.trim().toLowerCase();
  const array = text.endsWith('[]');
  text = text.replace(/(\[\])+$/, '');
  const time = /^(timestamp|time)(?:\((\d+)\))? (with|without) time zone$/.exec(text);
  if (time) {
    const name = `${time[1]}${time[3] === 'with' ? 'tz' : ''}`;
    return { name, mods: time[2] === undefined ? [] : [Number(time[2])], array };
  }
  const m = /^(.+?)(?:\(([\d,\s]+)\))?$/.exec(text);
  const base = (m?.[1] ?? text).replace(/^pg_catalog\./, '');
  const mods = m?.[2] === undefined ? [] : m[2].split(',').map((x) => Number(x.trim()));
  return { name: ALIASES[base] ?? base, mods, array };
}

/** How a type reads in messages: varchar(20), numeric(10,2), int4[]. */
export function showType(t: ColumnType): string {
  return `${t.name}${t.mods.length > 0 ? `(${t.mods.join(',')})` : ''}${t.array ? '[]' : ''}`;
}

/**
 * A USING expression that only restates the conversion (`USING col` or `USING col::type`), as opposed to
 * one that computes new values. Returns 'none' without USING.
 */
export function usingKind(using: Node | undefined): 'none' | 'cast' | 'expression' {
  if (using === undefined) return 'none';
  const inner = 'TypeCast' in using ? using.TypeCast.arg : using;
  return inner !== undefined && 'ColumnRef' in inner ? 'cast' : 'expression';
}

/** Same base type with other modifiers: loses data when the new modifiers keep less. */
function modsLoss(from: ColumnType, to: ColumnType): string | undefined {
  if (to.mods.length === 0) return undefined; // unconstrained keeps everything
  if (from.name === 'numeric') {
    const [, scale = 0] = to.mods;
    const fromScale = from.mods.length === 0 ? Infinity : (from.mods[1] ?? 0);
    return scale < fromScale ? `values are rounded to ${scale} decimal place(s)` : undefined;
  }
  if (TIMES.has(from.name)) {
    const fromPrecision = from.mods[0] ?? 6;
    const toPrecision = to.mods[0] ?? 6;
    return toPrecision < fromPrecision
      ? `fractional seconds are rounded to ${toPrecision} digit(s)`
      : undefined;
  }
  return `${showType(from)} → ${showType(to)} may change values`;
}

/**
 * Why changing a column from `from` to `to` can lose data, or undefined when it cannot (see the module
 * comment). `from` undefined = the current type is not known (a table neither the files nor the target
 * describe).
 */
export function typeChangeLoss(
  from: ColumnType | undefined,
  to: ColumnType,
  using: 'none' | 'cast' | 'expression',
): string | undefined {
  if (using === 'expression') return 'a USING expression computes every new value';
  if (STRINGS.has(to.name) && !to.array) {
    // Assignment to varchar(n) fails on a longer value; an explicit cast (USING col::varchar(n)) cuts it.
    return to.mods.length > 0 && to.name !== 'text' && using === 'cast'
      ? `an explicit cast to ${showType(to)} cuts longer values`
      : undefined;
  }
  if (from === undefined)
    return `the column's current type is not known here, so rounding or cutting cannot be ruled out`;
  if (from.array !== to.array) return `${showType(from)} → ${showType(to)} may change values`;
  if (from.name === to.name) return modsLoss(from, to);
  if (STRINGS.has(from.name)) return undefined; // text → other types: checked parse, fails on a bad value
  if (SAFE_CHANGES.has(`${from.name}>${to.name}`)) {
    return from.name === 'int8' && to.name === 'numeric' && to.mods.length > 0
      ? modsLoss({ ...from, name: 'numeric', mods: [19, 0] }, to)
      : undefined;
  }
  if (from.name === 'json' && to.name === 'jsonb')
    return 'jsonb drops duplicate keys, key order and formatting';
  return `${showType(from)} → ${showType(to)} may round, cut or reinterpret values`;
}

/**
 * True when PostgreSQL changes the type without rewriting the table (binary-coercible, modifiers only
 * widened): varchar(n) → text / varchar / varchar(m ≥ n), text → varchar, numeric(p,s) → numeric(p' ≥ p, s)
 * or numeric, varbit(n) → varbit(m ≥ n). Anything else (or an unknown current type) may rewrite it.
 */
export function typeChangeKeepsTable(
  from: ColumnType | undefined,
  to: ColumnType,
  using: 'none' | 'cast' | 'expression',
): boolean {
  if (from === undefined || using === 'expression' || from.array !== to.array) return false;
  const widened = to.mods.length === 0 || (from.mods.length > 0 && (to.mods[0] ?? 0) >= (from.mods[0] ?? 0));
  if ((from.name === 'varchar' || from.name === 'text') && (to.name === 'text' || to.name === 'varchar')) {
    return to.name === 'text' || (from.name === 'varchar' ? widened : to.mods.length === 0);
  }
  if (from.name === 'numeric' && to.name === 'numeric') {
    return widened && (to.mods.length === 0 || (to.mods[1] ?? 0) === (from.mods[1] ?? 0));
  }
  return from.name === 'varbit' && to.name === 'varbit' && widened;
}
