/**
 * Configuration is read once, here, into a typed and validated {@link Config} that is passed down.
 * No other module reads `process.env`.
 *
 * Sources, highest precedence first: the process environment, `.env.production`, `.env.local`,
 * `.env`, and last the embedded stack's `.crm-env/stack.env` (written by `crm-env stack up`, so that a
 * fresh clone works against the local stack and its sandbox cloud with no setup).
 *
 * Every variable is checked, and every problem is reported at once (one sentence each) in a single
 * {@link ConfigError}: exit 2, nothing was changed. Values are bounded by what the seed generator and
 * the CRM schema's columns can hold, so bad input never reaches a database.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod/v3';
import { ConfigError } from './errors.js';
import { formatCount } from './format.js';
import type { ConnInfo } from './db/conn-string.js';
import {
  childEnv,
  ConnStringError,
  connKey,
  namesTransactionPooler,
  parseConnString,
  passwordSpellings,
} from './db/conn-string.js';
import { redactText, redactUrl } from './redact.js';
import { MAX_SEED_VOLUME } from './seed/types.js';

export const DEFAULT_LOCAL_URL = 'postgresql://postgres:postgres@127.0.0.1:54322/postgres';
export const DEFAULT_PIPELINE_STAGES = [
  'new_lead',
  'initial_outreach',
  'sample_visit_offered',
  'awaiting_response',
  'feedback_logged',
  'demo_scheduled',
  'closed_won',
  'closed_lost',
] as const;
/** The values `opportunities.category` accepts (its CHECK constraint). */
export const OPPORTUNITY_CATEGORIES = ['new_business', 'upsell', 'renewal', 'sample'] as const;
/** `opportunities.amount` is numeric(12, 2): at most 10 digits before the point. */
export const MAX_OPPORTUNITY_AMOUNT = 9_999_999_999.99;
/**
 * Top-level domains reserved for testing and documentation (RFC 2606, RFC 6761; `.local` as the
 * spec's `test.local`): no real person can have a mailbox there, so test users can never be real.
 */
export const RESERVED_TEST_TLDS = ['test', 'local', 'example', 'invalid', 'localhost'] as const;
/** GoTrue refuses passwords shorter than 6 characters; bcrypt only reads the first 72 bytes. */
export const TEST_PASSWORD_BYTES = { min: 6, max: 72 } as const;
export const DEFAULT_TEST_PASSWORD = 'TestPass123!';
/**
 * From this many rows a table loads faster without its secondary indexes and foreign keys (re-created
 * after the load, one scan each) than with them (one index entry and one key check per row).
 */
export const DEFAULT_SYNC_BULK_MIN_ROWS = 50_000;

/** Where a URL came from, shown next to it so that nobody pushes to a database by surprise. */
export type UrlSource =
  'environment' | '.env.production' | '.env.local' | '.env' | 'stack' | 'default' | 'argument';

export interface DatabaseTarget {
  readonly label: 'local' | 'cloud' | 'custom';
  readonly url: string;
  readonly source: UrlSource;
}

export interface TestUserSettings {
  readonly adminEmail: string;
  readonly directorEmail: string;
  readonly managerEmail: string;
  readonly password: string;
  /** True when TEST_USER_PASSWORD is not set and the built-in default test password is used. */
  readonly passwordIsDefault: boolean;
  /** Domain whose auth users are test users (sync carries them, reset deletes them). */
  readonly emailDomain: string;
}

export type SeedVolumeKey = 'organizations' | 'contacts' | 'opportunities' | 'activities' | 'products';

export interface SeedSettings {
  readonly seed: string;
  /** Volume overrides from SEED_*_COUNT, applied to every test user. */
  readonly volumeOverrides: Readonly<Partial<Record<SeedVolumeKey, number>>>;
}

export interface OpportunitySettings {
  readonly stages: readonly string[];
  readonly maxAmount: number;
  readonly defaultProbability: number;
  readonly defaultCategory: string;
  readonly defaultStage: string;
}

export interface StackSettings {
  readonly dir: string;
  readonly localPort: number;
  readonly sandboxPort: number;
  /** Explicit Postgres bin folder (PG_BIN); null = discover. */
  readonly pgBin: string | null;
}

export interface Config {
  readonly projectDir: string;
  readonly local: DatabaseTarget;
  /** Null when no cloud is configured (no DATABASE_URL_PRODUCTION and no running stack). */
  readonly cloud: DatabaseTarget | null;
  readonly testUsers: TestUserSettings;
  readonly seed: SeedSettings;
  readonly opportunity: OpportunitySettings;
  readonly stack: StackSettings;
  readonly backupDir: string;
  /** Backups kept per kind and target after each backup (BACKUP_RETENTION); 0 keeps all. */
  readonly backupRetention: number;
  /** Explicit pg_dump binary (PG_DUMP); null = discover. */
  readonly pgDump: string | null;
  /**
   * Tables with at least this many local rows take the push's bulk path (SYNC_BULK_MIN_ROWS): their
   * secondary indexes and foreign keys are dropped for the load and re-created after it.
   */
  readonly syncBulkMinRows: number;
  readonly migrationsDir: string;
  /** Passwords found in the configured URLs, for redacting child-process output. */
  readonly secrets: readonly string[];
  /**
   * What child programs (pg_dump) inherit from the environment: PATH, HOME, locale and the like,
   * never a PG* or DATABASE_URL_* variable (see childEnv).
   */
  readonly childEnv: Readonly<Record<string, string>>;
}

export interface LoadConfigOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const FILES: readonly Exclude<UrlSource, 'environment' | 'default' | 'argument'>[] = [
  '.env.production',
  '.env.local',
  '.env',
  'stack',
];

function fileFor(projectDir: string, source: (typeof FILES)[number], stackDir: string): string {
  return source === 'stack' ? path.join(stackDir, 'stack.env') : path.join(projectDir, source);
}

/** A number from the environment: finite, within [min, max], whole when `int`; one sentence otherwise. */
const numberIn = (min: number, max: number, int = true) =>
  z
    .string()
    .transform((v) => (v.trim() === '' ? Number.NaN : Number(v)))
    .refine(
      (v) => Number.isFinite(v) && v >= min && v <= max && (!int || Number.isInteger(v)),
      `must be ${int ? 'a whole number' : 'a number'} from ${formatCount(min)} to ${formatCount(max)}`,
    );
const NOT_EMPTY = 'must not be empty';
const port = numberIn(1, 65535);
const count = numberIn(0, MAX_SEED_VOLUME);
const oneOf = (values: readonly string[]) =>
  z.string().refine((v) => values.includes(v), `must be one of ${values.join(', ')}`);

/** Each variable's own rule; rules that span variables are in {@link crossChecks}. */
const VARIABLES = {
  LOCAL_DATABASE_URL: z.string().optional(),
  DATABASE_URL_PRODUCTION: z.string().optional(),
  TEST_ADMIN_EMAIL: z.string().default('admin@test.local'),
  TEST_DIRECTOR_EMAIL: z.string().default('director@test.local'),
  TEST_MANAGER_EMAIL: z.string().default('manager@test.local'),
  TEST_USER_PASSWORD: z
    .string()
    .refine(
      (v) =>
        Buffer.byteLength(v) >= TEST_PASSWORD_BYTES.min && Buffer.byteLength(v) <= TEST_PASSWORD_BYTES.max,
      `must be ${TEST_PASSWORD_BYTES.min} to ${TEST_PASSWORD_BYTES.max} bytes long (GoTrue's minimum; bcrypt ignores the rest)`,
    )
    .optional(),
  TEST_EMAIL_DOMAIN: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
      'must be a domain such as test.local',
    )
    .refine(
      (v) => (RESERVED_TEST_TLDS as readonly string[]).includes(v.toLowerCase().split('.').at(-1)!),
      `must end in a reserved top-level domain (${RESERVED_TEST_TLDS.map((t) => `.${t}`).join(', ')}) so that no test user can be a real person`,
    )
    .default('test.local'),
  SEED: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters').default('crm-env'),
  SEED_ORGANIZATION_COUNT: count.optional(),
  SEED_CONTACT_COUNT: count.optional(),
  SEED_OPPORTUNITY_COUNT: count.optional(),
  SEED_ACTIVITY_COUNT: count.optional(),
  SEED_PRODUCT_COUNT: count.optional(),
  OPPORTUNITY_PIPELINE_STAGES: z.string().default(DEFAULT_PIPELINE_STAGES.join(',')),
  OPPORTUNITY_MAX_AMOUNT: numberIn(0.01, MAX_OPPORTUNITY_AMOUNT, false).default('1000000'),
  OPPORTUNITY_DEFAULT_PROBABILITY: numberIn(0, 100).default('50'),
  OPPORTUNITY_DEFAULT_CATEGORY: oneOf(OPPORTUNITY_CATEGORIES).default('new_business'),
  OPPORTUNITY_DEFAULT_STAGE: oneOf(DEFAULT_PIPELINE_STAGES).default('new_lead'),
  STACK_DIR: z.string().min(1, NOT_EMPTY).default('.crm-env'),
  LOCAL_DB_PORT: port.default('54322'),
  SANDBOX_DB_PORT: port.default('54332'),
  PG_BIN: z.string().min(1, NOT_EMPTY).optional(),
  PG_DUMP: z.string().min(1, NOT_EMPTY).optional(),
  BACKUP_DIR: z.string().min(1, NOT_EMPTY).default('backups'),
  BACKUP_RETENTION: numberIn(0, 100_000).default('10'),
  SYNC_BULK_MIN_ROWS: numberIn(1, 1_000_000_000).default(String(DEFAULT_SYNC_BULK_MIN_ROWS)),
} as const;

type Variables = { -readonly [K in keyof typeof VARIABLES]: z.output<(typeof VARIABLES)[K]> };

const SEED_COUNTS: readonly [keyof Variables, SeedVolumeKey][] = [
  ['SEED_ORGANIZATION_COUNT', 'organizations'],
  ['SEED_CONTACT_COUNT', 'contacts'],
  ['SEED_OPPORTUNITY_COUNT', 'opportunities'],
  ['SEED_ACTIVITY_COUNT', 'activities'],
  ['SEED_PRODUCT_COUNT', 'products'],
];

/**
 * Parses a PostgreSQL URL with the driver's parser (see src/db/conn-string.ts) and refuses Supabase's
 * transaction pooler. The error names the variable and what is wrong, never the URL (it may hold a
 * password).
 */
export function parseDatabaseUrl(name: string, value: string): ConnInfo {
  let info: ConnInfo;
  try {
    info = parseConnString(value);
  } catch (err) {
    if (!(err instanceof ConnStringError)) throw err;
    throw new ConfigError(
      `${name} is not a valid connection URL (not shown: it may hold a password): it ${err.message}.`,
    );
  }
  if (namesTransactionPooler(info)) {
    throw new ConfigError(
      `${name} points at Supabase's transaction pooler (${info.pgbouncer ? 'pgbouncer=true' : `port ${info.port}`}), which cannot keep the session locks and pg_dump sessions crm-env needs: use the session pooler (port 5432, user postgres.<project-ref>) or the direct host db.<project-ref>.supabase.co.`,
    );
  }
  return info;
}

/** A key naming the database a URL points at, for "same database" checks before connecting. */
export function databaseKey(url: string): string {
  return connKey(parseConnString(url));
}

/**
 * STACK_DIR first, since the stack's own stack.env is one of the sources: from the environment or the
 * project's .env files (in their precedence order), else `.crm-env`.
 */
function stackDirSetting(projectDir: string, env: Readonly<Record<string, string | undefined>>): string {
  if (env.STACK_DIR) return env.STACK_DIR;
  for (const source of FILES) {
    const file = path.join(projectDir, source);
    if (source === 'stack' || !existsSync(file)) continue;
    const value = parseDotenv(readFileSync(file)).STACK_DIR;
    if (value) return value;
  }
  return '.crm-env';
}

/** Merges the sources (environment over files); remembers where each value came from. */
function readSources(
  projectDir: string,
  stackDir: string,
  env: Readonly<Record<string, string | undefined>>,
): { merged: Record<string, string>; origin: Record<string, UrlSource>; cut: Set<string> } {
  const merged: Record<string, string> = {};
  const origin: Record<string, UrlSource> = {};
  const cut = new Set<string>();
  for (const source of [...FILES].reverse()) {
    const file = fileFor(projectDir, source, stackDir);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const cutHere = cutByComment(text);
    for (const [k, v] of Object.entries(parseDotenv(text))) {
      merged[k] = v;
      origin[k] = source;
      if (cutHere.has(k)) cut.add(k);
      else cut.delete(k);
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '') {
      merged[k] = v;
      origin[k] = 'environment';
      cut.delete(k);
    }
  }
  return { merged, origin, cut };
}

/**
 * Secret-holding variables (URLs, passwords) whose unquoted value has a `#` inside it: dotenv reads it
 * as the start of a comment and keeps only what comes before, which is then neither the value meant
 * nor safe to print.
 */
function cutByComment(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(line);
    if (m && /URL|PASSWORD/.test(m[1]!) && !/^['"`]/.test(m[2]!) && /[^\s]#/.test(m[2]!)) keys.add(m[1]!);
  }
  return keys;
}

/** Validates each variable on its own; every failure becomes one sentence in `problems`. */
function parseVariables(merged: Readonly<Record<string, string>>, problems: string[]): Variables {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(VARIABLES)) {
    const r = (schema as z.ZodType).safeParse(merged[key]);
    if (r.success) out[key] = r.data;
    else {
      const shown = /URL|PASSWORD/.test(key) ? '' : ` (got ${JSON.stringify(redactText(merged[key] ?? ''))})`;
      problems.push(`${key} ${r.error.issues[0]!.message.replace(/^Invalid input: /, '')}${shown}.`);
    }
  }
  return out as Variables;
}

/** Parses a configured URL; a malformed one adds its sentence to `problems` and yields null. */
function target(
  name: string,
  url: string | undefined,
  label: DatabaseTarget['label'],
  source: UrlSource,
  problems: string[],
): DatabaseTarget | null {
  if (url === undefined) return null;
  const named = source.startsWith('.env') ? `${name} (in ${source})` : name;
  try {
    parseDatabaseUrl(named, url);
    return { label, url, source };
  } catch (err) {
    problems.push((err as Error).message);
    return null;
  }
}

/** Rules that span variables (test users in the test domain, stages, ports). */
function crossChecks(e: Variables, problems: string[]): readonly string[] {
  const domain = e.TEST_EMAIL_DOMAIN?.toLowerCase();
  const emails = (['TEST_ADMIN_EMAIL', 'TEST_DIRECTOR_EMAIL', 'TEST_MANAGER_EMAIL'] as const).map(
    (name) => [name, e[name]?.toLowerCase()] as const,
  );
  for (const [name, email] of emails) {
    if (email === undefined) continue;
    if (!isValidEmail(email))
      problems.push(`${name} is not a valid email address: ${JSON.stringify(email)}.`);
    else if (domain !== undefined && !email.endsWith(`@${domain}`))
      problems.push(
        `${name} (${email}) is not in the test domain @${domain} (TEST_EMAIL_DOMAIN); test users must never be real people.`,
      );
  }
  const given = emails.map(([, v]) => v).filter((v) => v !== undefined);
  if (new Set(given).size !== given.length)
    problems.push(
      'TEST_ADMIN_EMAIL, TEST_DIRECTOR_EMAIL and TEST_MANAGER_EMAIL must be three different addresses.',
    );

  const stages = (e.OPPORTUNITY_PIPELINE_STAGES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = stages.filter((s) => !(DEFAULT_PIPELINE_STAGES as readonly string[]).includes(s));
  if (e.OPPORTUNITY_PIPELINE_STAGES !== undefined && (unknown.length > 0 || stages.length === 0))
    problems.push(
      `OPPORTUNITY_PIPELINE_STAGES must list stages among ${DEFAULT_PIPELINE_STAGES.join(', ')} (got ${JSON.stringify(unknown[0] ?? '')}).`,
    );
  if (new Set(stages).size !== stages.length)
    problems.push('OPPORTUNITY_PIPELINE_STAGES lists a stage twice.');
  if (
    e.OPPORTUNITY_DEFAULT_STAGE !== undefined &&
    stages.length > 0 &&
    !stages.includes(e.OPPORTUNITY_DEFAULT_STAGE)
  )
    problems.push(
      `OPPORTUNITY_DEFAULT_STAGE (${e.OPPORTUNITY_DEFAULT_STAGE}) is not one of OPPORTUNITY_PIPELINE_STAGES.`,
    );
  if (e.LOCAL_DB_PORT !== undefined && e.LOCAL_DB_PORT === e.SANDBOX_DB_PORT)
    problems.push('LOCAL_DB_PORT and SANDBOX_DB_PORT must differ.');
  return stages;
}

/** One {@link ConfigError} for all problems: the first sentence, the others as details. */
function configProblems(problems: readonly string[]): ConfigError {
  if (problems.length === 1) return new ConfigError(`${problems[0]} Nothing was changed.`);
  return new ConfigError(`The configuration has ${problems.length} problems; nothing was changed.`, {
    details: problems.map((p) => `- ${p}`),
  });
}

/**
 * Reads and validates the configuration.
 * @throws ConfigError (exit 2) listing every problem found (one sentence each), or when local and cloud
 * name the same database.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const projectDir = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? {};
  const stackDir = path.resolve(projectDir, stackDirSetting(projectDir, env));
  const { merged, origin, cut } = readSources(projectDir, stackDir, env);

  const problems: string[] = [];
  for (const key of cut) {
    problems.push(
      `${key} in ${origin[key]} has a # inside its value, which .env files read as the start of a comment (the rest is lost): put the value in double quotes or, in a URL, write # as %23.`,
    );
    delete merged[key];
  }
  const e = parseVariables(merged, problems);
  const local = target(
    'LOCAL_DATABASE_URL',
    e.LOCAL_DATABASE_URL ?? DEFAULT_LOCAL_URL,
    'local',
    e.LOCAL_DATABASE_URL === undefined ? 'default' : origin.LOCAL_DATABASE_URL!,
    problems,
  );
  const cloud = target(
    'DATABASE_URL_PRODUCTION',
    e.DATABASE_URL_PRODUCTION,
    'cloud',
    origin.DATABASE_URL_PRODUCTION!,
    problems,
  );
  if (local && cloud && databaseKey(cloud.url) === databaseKey(local.url)) {
    problems.push(
      `LOCAL_DATABASE_URL and DATABASE_URL_PRODUCTION name the same database (${redactUrl(local.url)}); the cloud must be a different database.`,
    );
  }
  const stages = crossChecks(e, problems);
  if (problems.length > 0 || local === null) throw configProblems(problems);

  const overrides: Partial<Record<SeedVolumeKey, number>> = {};
  for (const [name, key] of SEED_COUNTS) {
    const v = e[name];
    if (typeof v === 'number') overrides[key] = v;
  }
  const secrets = [local.url, cloud?.url]
    .filter((u): u is string => u !== undefined)
    .flatMap(passwordSpellings);

  return {
    projectDir,
    local,
    cloud,
    testUsers: {
      adminEmail: e.TEST_ADMIN_EMAIL.toLowerCase(),
      directorEmail: e.TEST_DIRECTOR_EMAIL.toLowerCase(),
      managerEmail: e.TEST_MANAGER_EMAIL.toLowerCase(),
      password: e.TEST_USER_PASSWORD ?? DEFAULT_TEST_PASSWORD,
      passwordIsDefault: e.TEST_USER_PASSWORD === undefined,
      emailDomain: e.TEST_EMAIL_DOMAIN.toLowerCase(),
    },
    seed: { seed: e.SEED, volumeOverrides: overrides },
    opportunity: {
      stages,
      maxAmount: e.OPPORTUNITY_MAX_AMOUNT,
      defaultProbability: e.OPPORTUNITY_DEFAULT_PROBABILITY,
      defaultCategory: e.OPPORTUNITY_DEFAULT_CATEGORY,
      defaultStage: e.OPPORTUNITY_DEFAULT_STAGE,
    },
    stack: {
      dir: stackDir,
      localPort: e.LOCAL_DB_PORT,
      sandboxPort: e.SANDBOX_DB_PORT,
      pgBin: e.PG_BIN ?? null,
    },
    backupDir: path.resolve(projectDir, e.BACKUP_DIR),
    backupRetention: e.BACKUP_RETENTION,
    pgDump: e.PG_DUMP ?? null,
    syncBulkMinRows: e.SYNC_BULK_MIN_ROWS,
    migrationsDir: path.join(projectDir, 'supabase', 'migrations'),
    secrets,
    childEnv: childEnv(env, {}),
  };
}

/** A deliberately plain check: one @, a dot in the domain, no whitespace, quotes or control characters. */
export function isValidEmail(email: string): boolean {
  const hasControl = [...email].some((ch) => ch.charCodeAt(0) < 0x20);
  return !hasControl && /^[^\s@"'\\;<>(),]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(email) && email.length <= 254;
}

/**
 * The cloud, or the one "no cloud configured" error (exit 2). `alternative` names another way out
 * for the command at hand (e.g. reset's --local-only).
 */
export function requireCloud(config: Config, alternative?: string): DatabaseTarget {
  if (config.cloud) return config.cloud;
  throw new ConfigError(
    `No cloud database is configured: set DATABASE_URL_PRODUCTION in .env.production (see .env.production.example) or start the embedded stack's sandbox with \`npm run stack:up\`${alternative ? `, or ${alternative}` : ''}. Nothing was changed.`,
  );
}

/**
 * Resolves a `--target` value: `local`, `cloud`, or a postgresql:// URL.
 * @throws ConfigError when the cloud is requested but not configured, or the URL is malformed.
 */
export function resolveTarget(config: Config, target: string): DatabaseTarget {
  if (target === 'local') return config.local;
  if (target === 'cloud') return requireCloud(config);
  if (/^postgres(ql)?:/i.test(target)) {
    parseDatabaseUrl('The target URL', target);
    return { label: 'custom', url: target, source: 'argument' };
  }
  throw new ConfigError(
    `Unknown target ${JSON.stringify(redactText(target))}: use local, cloud or a postgresql:// URL.`,
  );
}

/** Describes a target for humans: label, redacted URL, and where it came from. */
export function describeTarget(t: DatabaseTarget): string {
  const from =
    t.source === 'stack'
      ? t.label === 'cloud'
        ? 'the embedded stack’s sandbox'
        : 'the embedded stack'
      : t.source;
  return `${redactUrl(t.url)} (${t.label}, from ${from})`;
}
