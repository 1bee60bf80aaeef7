/**
 * The one helper through which identifiers enter SQL text. Values never do: they go in as parameters.
 */

/** Quotes an identifier exactly as Postgres' quote_ident does for every name (always quoted). */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`. */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A comma-separated, quoted column list. */
export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/**
 * Quotes a string literal, for the few places where SQL cannot take a parameter (SET, DDL text).
 * Assumes standard_conforming_strings = on (the default since PostgreSQL 9.1), so backslashes are literal.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('literal contains a NUL byte');
  return `'${value.replace(/'/g, "''")}'`;
}
