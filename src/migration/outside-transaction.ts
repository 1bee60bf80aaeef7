/**
 * Statements PostgreSQL refuses inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, …): how to
 * recognise them in the parser's AST, and — for the reset's rebuild, which runs in ONE transaction on a
 * schema it has just emptied — the in-transaction form each one has there.
 */
import type { Node } from 'libpg-query';
import { parseSync, scanSync } from 'libpg-query';
import type { ParsedStatement } from './lint.js';

/** A statement PostgreSQL refuses inside a transaction block, found in a migration file. */
export interface OutsideStatement {
  readonly line: number;
  /** What it is, e.g. 'CREATE INDEX CONCURRENTLY'. */
  readonly what: string;
}

const hasOption = (params: Node[] | undefined, name: string): boolean =>
  (params ?? []).some((p) => 'DefElem' in p && p.DefElem.defname === name);

/** Servers before 12 refuse ALTER TYPE … ADD VALUE in a transaction block. */
const ADD_VALUE_IN_TRANSACTION = 120000;

/**
 * What a statement is when PostgreSQL refuses to run it inside a transaction block, else undefined.
 * `serverVersion` (server_version_num) matters only for ALTER TYPE … ADD VALUE; unknown = a current server.
 */
export function outsideTransactionKind(node: Node, serverVersion = Infinity): string | undefined {
  if ('IndexStmt' in node && node.IndexStmt.concurrent) return 'CREATE INDEX CONCURRENTLY';
  if ('DropStmt' in node && node.DropStmt.removeType === 'OBJECT_INDEX' && node.DropStmt.concurrent)
    return 'DROP INDEX CONCURRENTLY';
  if ('ReindexStmt' in node) {
    const { kind, params } = node.ReindexStmt;
    if (hasOption(params, 'concurrently')) return 'REINDEX CONCURRENTLY';
    if (kind === 'REINDEX_OBJECT_SYSTEM' || kind === 'REINDEX_OBJECT_DATABASE')
      return 'REINDEX SYSTEM/DATABASE';
  }
  if ('VacuumStmt' in node && node.VacuumStmt.is_vacuumcmd) return 'VACUUM';
  if ('AlterSystemStmt' in node) return 'ALTER SYSTEM';
  if ('CreatedbStmt' in node) return 'CREATE DATABASE';
  if ('DropdbStmt' in node) return 'DROP DATABASE';
  if ('CreateTableSpaceStmt' in node) return 'CREATE TABLESPACE';
  if ('DropTableSpaceStmt' in node) return 'DROP TABLESPACE';
  if ('ClusterStmt' in node && !node.ClusterStmt.relation) return 'CLUSTER (all tables)';
  if ('AlterEnumStmt' in node && node.AlterEnumStmt.newVal && serverVersion < ADD_VALUE_IN_TRANSACTION)
    return 'ALTER TYPE … ADD VALUE (PostgreSQL 11 and older)';
  if ('AlterTableStmt' in node) {
    for (const item of node.AlterTableStmt.cmds ?? []) {
      const def = 'AlterTableCmd' in item ? item.AlterTableCmd.def : undefined;
      if (def && 'PartitionCmd' in def && def.PartitionCmd.concurrent) return 'DETACH PARTITION CONCURRENTLY';
    }
  }
  return undefined;
}

/** The statements of a file that cannot run inside a transaction; non-empty = the file is applied on its own. */
export function outsideTransactionStatements(
  statements: readonly ParsedStatement[],
  serverVersion = Infinity,
): OutsideStatement[] {
  return statements.flatMap((s) => {
    const what = outsideTransactionKind(s.ast as Node, serverVersion);
    return what === undefined ? [] : [{ line: s.line, what }];
  });
}

/** The statement without its CONCURRENTLY keyword, checked by parsing it again; undefined if that fails. */
function withoutConcurrently(sql: string): string | undefined {
  const bytes = Buffer.from(sql, 'utf8');
  const token = scanSync(sql).tokens.find(
    (t) => t.keywordKind !== 0 && t.text.toLowerCase() === 'concurrently',
  );
  if (!token) return undefined;
  const rewritten = Buffer.concat([bytes.subarray(0, token.start), bytes.subarray(token.end)]).toString(
    'utf8',
  );
  try {
    const stmts = parseSync(rewritten).stmts ?? [];
    const node = stmts[0]?.stmt;
    return stmts.length === 1 && node && outsideTransactionKind(node) === undefined ? rewritten : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How the reset's rebuild runs a statement inside its transaction, on a schema it has just emptied (no
 * other session can see those tables, so CONCURRENTLY buys nothing there):
 * - CREATE/DROP INDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY: the same statement without
 *   CONCURRENTLY (same index, same result);
 * - REINDEX, VACUUM, CLUSTER: skipped — maintenance, with no effect on what a fresh schema holds;
 * - anything else that cannot run in a transaction (ALTER SYSTEM, CREATE DATABASE, tablespaces): no
 *   in-transaction form (undefined): the rebuild applies such a file after its commit.
 * Statements that can run in a transaction are returned as they are.
 */
export function inTransactionForm(s: ParsedStatement): { sql: string } | 'skip' | undefined {
  const node = s.ast as Node;
  const kind = outsideTransactionKind(node);
  if (kind === undefined) return { sql: s.sql };
  if ('ReindexStmt' in node || 'VacuumStmt' in node || 'ClusterStmt' in node) return 'skip';
  if (!kind.endsWith('CONCURRENTLY')) return undefined;
  const sql = withoutConcurrently(s.sql);
  return sql === undefined ? undefined : { sql };
}
