/**
 * The one preflight of every command that changes a database (sync push, reset, users create, restore,
 * migrate deploy, migrate up). It runs only read-only checks, against every database involved, and
 * reports every problem at once; the command makes its first change only after it passes:
 * - server identity (never URL text): two databases a command treats as different are different, and
 *   a target labelled local or cloud is not the other configured database spelt another way;
 * - the capabilities the command needs from the connected role, on each database;
 * - the backup folder: exists or can be made, writable, room for the estimated backup;
 * - pg_dump found and new enough for every server a pg_dump backup is taken of;
 * - test-user rules: no account outside the test domain holds the id of a test user to be written.
 * Configuration problems exit 2, state found on a server exits 1; either way nothing was changed.
 */
import type { QueryResult } from 'pg';
import type { Config, DatabaseTarget } from '../config.js';
import type { Client } from '../db/connect.js';
import { connect } from '../db/connect.js';
import { requirePgDump } from '../db/pg-dump.js';
import { quoteLiteral } from '../db/sql.js';
import { ConfigError, CrmEnvError, OperationError } from '../errors.js';
import { shownPath } from '../format.js';
import { endOnAbort, interruptible } from '../interrupt.js';
import { redactUrl } from '../redact.js';
import type { BackupScope } from './backup-folder.js';
import { backupBytesFromRow, backupFolderProblem, estimateBackupBytesSql } from './backup-folder.js';
import type { Capability } from './capabilities.js';
import { capabilityProblems, ROLE_FACTS_SQL } from './capabilities.js';
import type { ServerIdentity } from './identity.js';
import {
  identityFromRow,
  sameDatabase,
  serverIdentity,
  serverIdentitySql,
  systemIdRevoked,
} from './identity.js';
import { AUTH_TABLES_EXIST_SQL, conflictSentence, testUserConflictsIn } from './test-user-conflicts.js';

export interface PreflightDatabase {
  readonly target: DatabaseTarget;
  /** An open connection to check on (the caller keeps it); without one, a connection is opened here. */
  readonly client?: Client;
  readonly needs: readonly Capability[];
  /** Backups the command writes of this database first: 'full' (pg_dump) and/or 'sync' (crm-env). */
  readonly backups?: readonly BackupScope[];
  /** Ids of the test users the command writes here. */
  readonly testUserIds?: readonly string[];
  /** The command upserts the test users' email identities (users create), rather than inserting them. */
  readonly upsertsIdentities?: boolean;
}

export interface PreflightPlan {
  /** The command, as the user typed it ("sync push", "reset"): named in problem sentences. */
  readonly command: string;
  readonly databases: readonly PreflightDatabase[];
  readonly signal?: AbortSignal;
}

export interface PreflightReport {
  readonly identities: Readonly<Record<string, ServerIdentity>>;
  /** Estimated size of the backups the command writes. */
  readonly backupBytes: number;
}

interface Problem {
  readonly kind: 'config' | 'state';
  readonly text: string;
  /** Lines printed under the sentence (e.g. install commands). */
  readonly details?: readonly string[];
}

/** How long a preflight query may wait for a lock held by someone else before it gives up. */
const PREFLIGHT_LOCK_TIMEOUT = '10s';

interface Checked {
  readonly db: PreflightDatabase;
  readonly identity: ServerIdentity;
  readonly backupBytes: number;
  readonly problems: readonly Problem[];
}

/**
 * The facts of one database in one round trip (a simple query of parameterless statements): the
 * preflight's lock timeout, the server identity, the role's capabilities, the backup estimate and
 * whether the auth tables exist.
 */
async function readFacts(
  plan: PreflightPlan,
  db: PreflightDatabase,
  client: Client,
): Promise<{ identity: ServerIdentity; capabilities: string[]; backupBytes: number; auth: boolean }> {
  const scopes = db.backups ?? [];
  const sql = (withSystemId: boolean): string[] => [
    `select set_config('lock_timeout', ${quoteLiteral(PREFLIGHT_LOCK_TIMEOUT)}, false)`,
    serverIdentitySql(withSystemId),
    AUTH_TABLES_EXIST_SQL,
    ...(db.needs.length > 0 ? [ROLE_FACTS_SQL] : []),
    ...scopes.map(estimateBackupBytesSql),
  ];
  const run = async (withSystemId: boolean): Promise<QueryResult[]> =>
    (await client.query(sql(withSystemId).join(';\n'))) as unknown as QueryResult[];
  // A server that revoked pg_control_system() fails the first form: one more round trip there.
  const results = await run(true).catch((err: unknown) => {
    if (!systemIdRevoked(err)) throw err;
    return run(false);
  });
  const row = (i: number): Record<string, unknown> => results[i]!.rows[0]!;
  const estimates = scopes.map((_, i) => backupBytesFromRow(row(results.length - scopes.length + i)));
  return {
    identity: identityFromRow(row(1)),
    auth: row(2).ok === true,
    capabilities:
      db.needs.length > 0 ? capabilityProblems(row(3), db.needs, db.target.label, plan.command) : [],
    backupBytes: estimates.reduce((a, n) => a + n, 0),
  };
}

/** The read-only checks of one database, on its connection. */
async function checkDatabase(
  config: Config,
  plan: PreflightPlan,
  db: PreflightDatabase,
  client: Client,
): Promise<Checked> {
  const facts = await readFacts(plan, db, client);
  const { identity, backupBytes } = facts;
  const label = db.target.label;
  const problems: Problem[] = facts.capabilities.map((text) => ({ kind: 'config', text }));
  if ((db.backups ?? []).includes('full')) {
    try {
      await requirePgDump(config, client);
    } catch (err) {
      if (!(err instanceof CrmEnvError)) throw err;
      problems.push({ kind: 'config', text: err.message, details: err.details });
    }
  }
  const domain = config.testUsers.emailDomain;
  const conflicts = facts.auth
    ? await testUserConflictsIn(client, db.testUserIds ?? [], domain, db.upsertsIdentities ?? false)
    : [];
  for (const c of conflicts) problems.push({ kind: 'state', text: conflictSentence(c, label, domain) });
  return { db, identity, backupBytes, problems };
}

/** Opens (or reuses) the connection of each database and checks it; every connection opened here is closed. */
async function checkAll(config: Config, plan: PreflightPlan): Promise<Checked[]> {
  const opened: Client[] = [];
  const stop = endOnAbort(plan.signal, opened);
  try {
    // allSettled: a failed connection must not leave another one opening after the cleanup below.
    const results = await Promise.allSettled(
      plan.databases.map(async (db) => {
        const client = db.client ?? (await connect(db.target.url, { label: db.target.label }));
        if (!db.client) opened.push(client);
        if (plan.signal?.aborted) void client.end().catch(() => undefined);
        return checkDatabase(config, plan, db, client);
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<Checked>).value);
  } finally {
    stop();
    await Promise.allSettled(opened.map((c) => c.end()));
  }
}

function sameDatabaseSentence(a: DatabaseTarget, b: DatabaseTarget): string {
  return `The ${a.label} database ${redactUrl(a.url)} and the ${b.label} database ${redactUrl(b.url)} are the same database on the same server (however their URLs are spelt); point LOCAL_DATABASE_URL and DATABASE_URL_PRODUCTION at different databases (nothing was changed).`;
}

/** Two databases of the plan that are one database. */
function identityProblems(checked: readonly Checked[]): Problem[] {
  const problems: Problem[] = [];
  for (const [i, a] of checked.entries()) {
    for (const b of checked.slice(i + 1)) {
      if (a.db.target.label !== b.db.target.label && sameDatabase(a.identity, b.identity))
        problems.push({ kind: 'config', text: sameDatabaseSentence(a.db.target, b.db.target) });
    }
  }
  return problems;
}

/**
 * A target labelled local (or cloud) must not be the configured cloud (or local) under another
 * spelling, even when the command does not otherwise touch it. Best effort: when the other database
 * cannot be reached, it cannot be the target (which was reached), so nothing is reported.
 */
async function counterpartProblems(config: Config, checked: readonly Checked[]): Promise<Problem[]> {
  const inPlan = new Set(checked.map((c) => c.db.target.label));
  const problems: Problem[] = [];
  for (const c of checked) {
    const other =
      c.db.target.label === 'local' ? config.cloud : c.db.target.label === 'cloud' ? config.local : null;
    if (!other || inPlan.has(other.label)) continue;
    let client: Client;
    try {
      client = await connect(other.url, { label: other.label, connectTimeoutMs: 5_000 });
    } catch {
      continue;
    }
    try {
      if (sameDatabase(c.identity, await serverIdentity(client)))
        problems.push({ kind: 'config', text: sameDatabaseSentence(c.db.target, other) });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return problems;
}

/** One error for all problems: configuration ones first (exit 2), else state (exit 1). */
function preflightError(command: string, problems: readonly Problem[]): CrmEnvError {
  const ordered = [
    ...problems.filter((p) => p.kind === 'config'),
    ...problems.filter((p) => p.kind === 'state'),
  ];
  const Kind = ordered[0]!.kind === 'config' ? ConfigError : OperationError;
  if (ordered.length === 1) return new Kind(ordered[0]!.text, { details: ordered[0]!.details });
  return new Kind(`The ${command} preflight found ${ordered.length} problems; nothing was changed.`, {
    details: ordered.flatMap((p) => [`- ${p.text}`, ...(p.details ?? []).map((d) => `    ${d}`)]),
  });
}

/**
 * Runs the preflight of `plan`. Resolves when every check passed.
 * @throws ConfigError (exit 2) or OperationError (exit 1) listing every problem; InterruptedError when
 * the signal aborted. Nothing is changed in any case.
 */
export async function runPreflight(config: Config, plan: PreflightPlan): Promise<PreflightReport> {
  return interruptible(
    plan.signal,
    `${plan.command} interrupted during its read-only checks; nothing was changed.`,
    async () => {
      const checked = await checkAll(config, plan);
      const backupBytes = checked.reduce((a, c) => a + c.backupBytes, 0);
      const problems = [...identityProblems(checked), ...(await counterpartProblems(config, checked))];
      if (checked.some((c) => (c.db.backups ?? []).length > 0)) {
        const folder = await backupFolderProblem(
          config.backupDir,
          backupBytes,
          shownPath(config.projectDir, config.backupDir),
        );
        if (folder) problems.push({ kind: 'config', text: folder });
      }
      problems.push(...checked.flatMap((c) => c.problems));
      if (problems.length > 0) throw preflightError(plan.command, problems);
      return {
        identities: Object.fromEntries(checked.map((c) => [c.db.target.label, c.identity])),
        backupBytes,
      };
    },
  );
}
