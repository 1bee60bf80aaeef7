/**
 * The rehearsal of `migrate validate`: every migration applied from scratch to a throwaway database on the
 * LOCAL server, then the post-migration checks, then the database is dropped. It catches what parsing and
 * linting cannot: a missing table, a wrong column, an enum value used in the transaction that adds it.
 *
 * How the throwaway database gets a Supabase-like base, and the fallbacks:
 * 1. `CREATE DATABASE crm_env_rehearsal_<random> TEMPLATE template0` as the local role (needs CREATEDB,
 *    which `postgres` has on Supabase and on the embedded stack). Without it: skipped, with a warning.
 * 2. template0 has no `auth` schema, so crm-env's Supabase base schema (sql/base-schema.sql) is applied —
 *    but never when the local database is real Supabase (Docker `supabase start`): the base schema would
 *    touch that cluster's roles. There the rehearsal is skipped with a warning (`supabase db reset` is the
 *    rehearsal on a real Supabase stack).
 * 3. The base schema needs a superuser (it creates roles and default privileges for Supabase's admin roles):
 *    the local role if it is one, else `supabase_admin` with the local URL's password (how the embedded
 *    stack is set up). If neither works: skipped, with a warning that says so.
 * A local server that does not answer is an error, not a skip: validate was asked to rehearse.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import { withConn } from '../db/conn-string.js';
import { withClient } from '../db/connect.js';
import { dropDatabaseForce } from '../db/drop-database.js';
import { quoteIdent } from '../db/sql.js';
import { CrmEnvError } from '../errors.js';
import { redactText } from '../redact.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import { applyBaseSchema, isRealSupabase } from '../stack/base-schema.js';
import type { FileOutcome } from './apply.js';
import { ApplyFailedError, applyMigrations } from './apply.js';
import type { MigrationFile } from './files.js';
import type { PostCheckReport } from './post-checks.js';
import { runPostChecks } from './post-checks.js';

export interface RehearsalResult {
  /** ok: applied and checked. failed: a migration or a post-check failed. skipped: could not run (see reason). */
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly reason?: string;
  /** The throwaway database's name (already dropped). */
  readonly database?: string;
  readonly files: readonly FileOutcome[];
  readonly failure?: { readonly file: string; readonly line: number; readonly message: string };
  readonly postChecks?: PostCheckReport;
  readonly ms: number;
}

/**
 * Applies the base schema as the local role when it is a superuser, else as `supabase_admin` with the same
 * password (the embedded stack's setup). Returns why not when that fails.
 */
async function applyBase(url: string, isSuperuser: boolean): Promise<string | undefined> {
  const admin = isSuperuser ? url : withConn(url, { user: 'supabase_admin' });
  try {
    await applyBaseSchema(admin);
    return undefined;
  } catch (err) {
    const why = redactText((err as Error).message);
    return `the Supabase base schema needs a superuser, and ${isSuperuser ? 'the local role' : 'supabase_admin (with the local password)'} could not apply it (${why})`;
  }
}

/** Why the rehearsal cannot run on this local server, or the local role's superuser flag when it can. */
async function checkLocal(adminUrl: string): Promise<{ skip: string } | { superuser: boolean }> {
  const probe = await withClient(
    adminUrl,
    async (c) => {
      const { rows } = await c.query<{ createdb: boolean; superuser: boolean }>(
        `select rolcreatedb or rolsuper as createdb, rolsuper as superuser from pg_roles where rolname = current_user`,
      );
      return rows[0]!;
    },
    { label: 'local' },
  );
  if (!probe.createdb) {
    return {
      skip: 'the local role may not CREATE DATABASE; grant it CREATEDB or rehearse on the embedded stack (`npm run stack:up`)',
    };
  }
  if (await isRealSupabase(adminUrl)) {
    return {
      skip: 'the local database is a real Supabase stack, whose auth schema cannot be rebuilt in a throwaway database; use `supabase db reset` to rehearse there',
    };
  }
  return { superuser: probe.superuser };
}

/** Creates the throwaway database; returns why not when the server refuses (not when it is unreachable). */
async function createThrowaway(adminUrl: string, database: string): Promise<string | undefined> {
  try {
    await withClient(adminUrl, (c) => c.query(`create database ${quoteIdent(database)} template template0`), {
      label: 'local',
    });
    return undefined;
  } catch (err) {
    if (err instanceof CrmEnvError) throw err; // the server did not answer
    return `creating the throwaway database failed: ${redactText((err as Error).message)}`;
  }
}

async function dropThrowaway(adminUrl: string, database: string, reporter: Reporter): Promise<void> {
  await withClient(adminUrl, (c) => dropDatabaseForce(c, database), { label: 'local' }).catch(
    (err: unknown) =>
      reporter.warn(
        `Could not drop the rehearsal database ${database}: ${redactText((err as Error).message)}`,
      ),
  );
}

type Outcome = Omit<RehearsalResult, 'ms'>;

/** Applies `files` to the throwaway database and runs the post-checks; a failure is the outcome, not a throw. */
async function applyAndCheck(
  url: string,
  database: string,
  files: readonly MigrationFile[],
  reporter: Reporter,
): Promise<Outcome> {
  try {
    return await withClient(
      url,
      async (client) => {
        let outcomes: readonly FileOutcome[];
        try {
          outcomes = (await applyMigrations(client, files, { mode: 'commit', reporter })).files;
        } catch (err) {
          if (!(err instanceof ApplyFailedError)) throw err;
          const failure = { file: err.file, line: err.line, message: err.message };
          return { status: 'failed', database, files: err.files, failure };
        }
        const postChecks = await runPostChecks(client, files);
        return { status: postChecks.ok ? 'ok' : 'failed', database, files: outcomes, postChecks };
      },
      { label: 'rehearsal' },
    );
  } catch (err) {
    // planMigrations' own errors and the like are findings of the rehearsal, not crashes of validate.
    if (err instanceof CrmEnvError && err.exitCode === 1) {
      const failure = { file: '', line: 0, message: redactText(err.message) };
      return { status: 'failed', database, files: [], failure };
    }
    throw err;
  }
}

/**
 * Rehearses `files` on a throwaway database of `config.local`'s server. Never throws for a migration or
 * check failure (that is the result); throws CrmEnvError only when the local server cannot be reached.
 */
export async function rehearse(
  config: Config,
  files: readonly MigrationFile[],
  reporter: Reporter = silentReporter,
): Promise<RehearsalResult> {
  const t0 = performance.now();
  const done = (r: Outcome): RehearsalResult => ({ ...r, ms: performance.now() - t0 });
  const skipped = (reason: string): RehearsalResult => done({ status: 'skipped', reason, files: [] });

  const adminUrl = config.local.url;
  const local = await checkLocal(adminUrl);
  if ('skip' in local) return skipped(local.skip);
  const database = `crm_env_rehearsal_${randomBytes(6).toString('hex')}`;
  const notCreated = await createThrowaway(adminUrl, database);
  if (notCreated !== undefined) return skipped(notCreated);
  reporter.info(`Rehearsal database ${database} created on the local server`);
  try {
    const url = withConn(adminUrl, { database });
    const noBase = await applyBase(url, local.superuser);
    if (noBase !== undefined) return skipped(noBase);
    return done(await applyAndCheck(url, database, files, reporter));
  } finally {
    await dropThrowaway(adminUrl, database, reporter);
  }
}
