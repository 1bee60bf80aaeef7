/**
 * `seed export`: writes supabase/seed.sql with exactly the rows `users create` makes — the test users
 * with their identities, their sales rows, the shared segments and tags, their CRM data and
 * test_user_metadata — so that `supabase db reset` (which loads seed files after the migrations)
 * gives the same test data as `npm run dev:users:create`.
 *
 * One code path with `users create`: the same generator stream, the same parameterised statements
 * (written as PREPARE/EXECUTE, so their SQL text is byte for byte the one users create runs) and the
 * same value encoder as its COPY (src/db/copy-text.ts), only quoted as SQL literals. Plain SQL, no COPY
 * and no psql meta-commands: the Supabase CLI sends a seed file statement by statement through its
 * driver, where `COPY … FROM stdin` fails ("No source stream defined") and `\.` is a syntax error.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import { textInputForm } from '../db/copy-text.js';
import { columnList, qualify, quoteLiteral } from '../db/sql.js';
import { ConfigError, CrmEnvError, OperationError, UsageError } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { SeedRow, SeedStream, SeedTable, SeedTableName } from '../seed/generate.js';
import { referenceIdRemapper, SEED_COLUMN_TYPES, SEGMENTS, TAGS } from '../seed/generate.js';
import type { SeedStatement, TestUserSpec, UserSummary } from './test-users.js';
import {
  authStatements,
  metadataStatement,
  referenceStatement,
  salesStatement,
  seedStreamForConfig,
  testUserSpecs,
  userSummaries,
  volumesFor,
} from './test-users.js';

/** The first line of every file seed export writes; a file without it is not replaced without --yes. */
export const SEED_FILE_MARKER = '-- crm-env seed export';

/** Rows per INSERT statement. */
const ROWS_PER_INSERT = 500;

export interface SeedExportResult {
  readonly file: string;
  readonly bytes: number;
  readonly users: readonly UserSummary[];
  /** Rows written per generated table (segments and tags aside, as users create counts them). */
  readonly rowsByTable: Record<string, number>;
  readonly ms: number;
}

export interface SeedExportOptions {
  /** Where to write (absolute). */
  readonly file: string;
  /** Replace a file that crm-env did not write (--yes). */
  readonly replaceForeign?: boolean;
}

/**
 * Writes the seed file for the configured test users, atomically (a temporary file renamed over the
 * old one), after checking everything that can be checked first.
 * @throws ConfigError (exit 2) when TEST_USER_PASSWORD is set; UsageError (exit 2) when the file exists
 * and crm-env did not write it, unless `replaceForeign`. Nothing is written then.
 */
export async function exportSeed(
  config: Config,
  options: SeedExportOptions,
  reporter: Reporter = silentReporter,
): Promise<SeedExportResult> {
  const t0 = performance.now();
  assertDefaultPassword(config);
  await assertReplaceable(options.file, options.replaceForeign === true);
  const specs = testUserSpecs(config);
  const data = seedStreamForConfig(config, specs);
  const rowsByTable: Record<string, number> = {};
  const bytes = await writeAtomically(options.file, seedSql(config, specs, data, rowsByTable, reporter));
  return {
    file: options.file,
    bytes,
    users: userSummaries(specs, data),
    rowsByTable,
    ms: performance.now() - t0,
  };
}

export interface SeedCheckResult {
  readonly file: string;
  /** The file holds exactly what `seed export` would write now. */
  readonly upToDate: boolean;
  /** The file does not exist. */
  readonly missing: boolean;
  /** Size of what `seed export` would write. */
  readonly expectedBytes: number;
  readonly ms: number;
}

/**
 * `seed export --check`: whether `file` is byte for byte what {@link exportSeed} would write with this
 * configuration (the committed supabase/seed.sql against the generator and settings of this checkout).
 * Streams both sides through SHA-256, so nothing large is held. Writes nothing.
 * @throws ConfigError (exit 2) when TEST_USER_PASSWORD is set, as exportSeed does.
 */
export async function checkSeedFile(config: Config, file: string): Promise<SeedCheckResult> {
  const t0 = performance.now();
  assertDefaultPassword(config);
  const specs = testUserSpecs(config);
  const expected = createHash('sha256');
  let expectedBytes = 0;
  for (const text of seedSql(config, specs, seedStreamForConfig(config, specs), {}, silentReporter)) {
    const chunk = Buffer.from(text);
    expectedBytes += chunk.length;
    expected.update(chunk);
  }
  const actual = await fileHash(file);
  return {
    file,
    upToDate: actual === expected.digest('hex'),
    missing: actual === null,
    expectedBytes,
    ms: performance.now() - t0,
  };
}

/** SHA-256 of a file's bytes, or null when it does not exist. */
async function fileHash(file: string): Promise<string | null> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new OperationError(`Reading ${file} failed: ${(err as Error).message}.`, { cause: err });
  }
  return hash.digest('hex');
}

/**
 * The file is committed and read by everyone with the repository: a password someone chose must not
 * be in it, in clear or as a hash (bcrypt hashes of short passwords are cracked offline). The built-in
 * default is a test password that the README names.
 */
function assertDefaultPassword(config: Config): void {
  if (!config.testUsers.passwordIsDefault)
    throw new ConfigError(
      'TEST_USER_PASSWORD is set, and supabase/seed.sql is committed for anyone with the repository to read: crm-env does not write your password into it. Export without TEST_USER_PASSWORD (the built-in test password is used) and keep creating users with your own password with `npm run dev:users:create`. Nothing was written.',
    );
}

/** Refuses (exit 2) to replace a file that does not start with {@link SEED_FILE_MARKER}, unless told to. */
async function assertReplaceable(file: string, replaceForeign: boolean): Promise<void> {
  let kind: 'missing' | 'file' | 'other' = 'missing';
  try {
    kind = statSync(file).isFile() ? 'file' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (kind === 'other')
    throw new UsageError(`${file} exists and is not a file; give another --output. Nothing was written.`);
  if (kind === 'missing' || replaceForeign || (await firstLine(file)).startsWith(SEED_FILE_MARKER)) return;
  throw new UsageError(
    `${file} was not written by crm-env (its first line is not "${SEED_FILE_MARKER}…"); pass --yes to replace it, or give another --output. Nothing was written.`,
  );
}

async function firstLine(file: string): Promise<string> {
  let head = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', start: 0, end: 255 }))
    head += chunk as string;
  return head.split('\n', 1)[0] ?? '';
}

/** Streams `chunks` into a temporary file next to `file`, then renames it over `file`. Returns bytes written. */
async function writeAtomically(file: string, chunks: Iterable<string>): Promise<number> {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  let bytes = 0;
  function* counted(): Generator<Buffer> {
    for (const text of chunks) {
      const chunk = Buffer.from(text);
      bytes += chunk.length;
      yield chunk;
    }
  }
  try {
    await pipeline(Readable.from(counted()), createWriteStream(temp, { mode: 0o644 }));
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    if (err instanceof CrmEnvError) throw err;
    throw new OperationError(
      `Writing ${file} failed: ${(err as Error).message}. The previous file is unchanged.`,
      {
        cause: err,
      },
    );
  }
  return bytes;
}

/** SQL that the file holds as it is (a lookup by name), where a value would otherwise be a literal. */
class SqlExpression {
  constructor(readonly sql: string) {}
}

/**
 * A value as SQL: NULL, a string literal holding the column type's text input form (what users create
 * sends in its COPY), or, for a reference id, the lookup that finds it when the file is loaded.
 */
export function sqlValue(value: unknown, columnType?: string): string {
  if (value instanceof SqlExpression) return value.sql;
  if (Array.isArray(value) && value.some((v) => v instanceof SqlExpression)) {
    if (columnType === undefined) throw new TypeError('sqlValue: an array of lookups needs its column type');
    return `array[${value.map((v) => sqlValue(v)).join(', ')}]::${columnType}`;
  }
  const text = textInputForm(value, columnType);
  return text === null ? 'NULL' : quoteLiteral(text);
}

/** A statement users create runs with parameters, as PREPARE, one EXECUTE per parameter list, DEALLOCATE. */
export function preparedSql(statement: SeedStatement): string {
  const name = `crm_env_seed_${statement.name}`;
  const executes = statement.runs.map(
    (values) => `execute ${name} (${values.map((v) => sqlValue(v)).join(', ')});\n`,
  );
  return `prepare ${name} as\n${statement.text};\n${executes.join('')}deallocate ${name};\n\n`;
}

/** Name lookups for the catalogue ids: the loading database's identity may have assigned others. */
function lookupRemapper(): (table: SeedTableName, row: SeedRow) => SeedRow {
  const lookups = (table: 'segments' | 'tags', names: readonly string[]) =>
    new Map(
      names.map((n) => [
        n,
        new SqlExpression(`(select id from public.${table} where name = ${quoteLiteral(n)})`),
      ]),
    );
  return referenceIdRemapper(
    lookups(
      'segments',
      SEGMENTS.map((s) => s.name),
    ),
    lookups(
      'tags',
      TAGS.map((t) => t.name),
    ),
  );
}

/** One generated table as INSERT statements of {@link ROWS_PER_INSERT} rows; returns the rows written. */
function* insertSql(
  table: SeedTable,
  remap: (table: SeedTableName, row: SeedRow) => SeedRow,
  reporter: Reporter,
): Generator<string, number> {
  const columns = Object.keys(SEED_COLUMN_TYPES[table.name]);
  const types = Object.values(SEED_COLUMN_TYPES[table.name]);
  const head = `insert into ${qualify('public', table.name)} (${columnList(columns)}) values\n`;
  let done = 0;
  let lines: string[] = [];
  const flush = (): string => {
    const sql = `${head}${lines.join(',\n')};\n\n`;
    lines = [];
    reporter.progress({ label: table.name, done, total: table.total });
    return sql;
  };
  for (const row of table.rows) {
    const r = remap(table.name, row);
    lines.push(`(${columns.map((c, i) => sqlValue(r[c], types[i])).join(', ')})`);
    done++;
    if (lines.length === ROWS_PER_INSERT) yield flush();
  }
  if (lines.length > 0) yield flush();
  if (done > 0) reporter.progress({ label: table.name, done, total: table.total, final: true });
  return done;
}

function header(config: Config, specs: readonly TestUserSpec[]): string {
  const users = specs.map((s) => {
    const v = volumesFor(config, s.role);
    return `--   ${s.email} (${s.role}): ${v.organizations} organizations, ${v.contacts} contacts, ${v.opportunities} opportunities, ${v.activities} activities, ${v.products} products`;
  });
  return [
    `${SEED_FILE_MARKER}: the test users and their CRM data, exactly as \`npm run dev:users:create\` makes them.`,
    '-- Written by crm-env: do not edit. Regenerate with `npm run seed:export` (it replaces only files that',
    '-- start with the line above).',
    '--',
    '-- `supabase db reset` loads it after the migrations ([db.seed] in supabase/config.toml); by hand:',
    '--   psql -1 -v ON_ERROR_STOP=1 -f supabase/seed.sql <database-url>',
    '-- For a database after the migrations, without these users: loaded again, it stops at the first',
    '-- duplicate key (with psql -1, nothing is changed). Plain SQL without COPY or psql meta-commands,',
    '-- because the Supabase CLI runs seed files statement by statement.',
    '--',
    '-- Test users (password: the built-in test password, hashed with bcrypt when the file is loaded):',
    ...users,
    `-- SEED=${config.seed.seed}`,
    '',
    "set client_encoding = 'UTF8';",
    'set standard_conforming_strings = on;',
    '',
    '',
  ].join('\n');
}

/**
 * The file, generated while it is written: users create's steps in its order (auth users and
 * identities, sales, segments and tags by name, each table's rows, test_user_metadata).
 */
function* seedSql(
  config: Config,
  specs: readonly TestUserSpec[],
  data: SeedStream,
  rowsByTable: Record<string, number>,
  reporter: Reporter,
): Generator<string> {
  yield header(config, specs);
  for (const statement of authStatements(specs, config.testUsers.password)) yield preparedSql(statement);
  yield preparedSql(salesStatement(specs));
  const remap = lookupRemapper();
  for (const table of data.tables) {
    if (table.name === 'segments' || table.name === 'tags') {
      yield preparedSql(referenceStatement(table.name, Array.from(table.rows)));
      continue;
    }
    const written = yield* insertSql(table, remap, reporter);
    if (written > 0) rowsByTable[table.name] = written;
  }
  yield preparedSql(metadataStatement(specs, data.countsByUser));
}
