/**
 * Configuration is read once, here, into a typed and validated {@link Config} that is passed down.
 * No other module reads `process.env`.
 *
 * Sources, highest precedence first: the process environment, `.env.production`, `.env.local`,
 * `.env`, and last the embedded stack's `.crm-env/stack.env` (written by `crm-env stack up`, so that a
 * fresh clone works against the local stack and its sandbox cloud with no setup).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { ConfigError } from './errors.js';
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
  /** Domain whose auth users are test users (sync carries them, reset deletes them). */
  readonly emailDomain: string;
}

export interface SeedSettings {
  readonly seed: string;
  /** Volume overrides from SEED_*_COUNT, applied to every test user. */
  readonly volumeOverrides: Readonly<
    Partial<Record<'organizations' | 'contacts' | 'opportunities' | 'activities' | 'products', number>>
  >;
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
  /** Explicit pg_dump binary (PG_DUMP); null = discover. */
  readonly pgDump: string | null;
  readonly migrationsDir: string;
  /** Passwords found in the configured URLs, for redacting child-process output. */
  readonly secrets: readonly string[];
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

const port = z.coerce.number().int().min(1).max(65535);
const count = z.coerce.number().int().min(0).max(MAX_SEED_VOLUME);

const envSchema = z.object({
  LOCAL_DATABASE_URL: z.string().optional(),
  DATABASE_URL_PRODUCTION: z.string().optional(),
  TEST_ADMIN_EMAIL: z.string().default('admin@test.local'),
  TEST_DIRECTOR_EMAIL: z.string().default('director@test.local'),
  TEST_MANAGER_EMAIL: z.string().default('manager@test.local'),
  TEST_USER_PASSWORD: z.string().min(1).default('TestPass123!'),
  TEST_EMAIL_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+$/i, 'must be a domain such as test.local')
    .default('test.local'),
  SEED: z.string().min(1).default('crm-env'),
  SEED_ORGANIZATION_COUNT: count.optional(),
  SEED_CONTACT_COUNT: count.optional(),
  SEED_OPPORTUNITY_COUNT: count.optional(),
  SEED_ACTIVITY_COUNT: count.optional(),
  SEED_PRODUCT_COUNT: count.optional(),
  OPPORTUNITY_PIPELINE_STAGES: z.string().default(DEFAULT_PIPELINE_STAGES.join(',')),
  OPPORTUNITY_MAX_AMOUNT: z.coerce.number().positive().default(1_000_000),
  OPPORTUNITY_DEFAULT_PROBABILITY: z.coerce.number().int().min(0).max(100).default(50),
  OPPORTUNITY_DEFAULT_CATEGORY: z.string().default('new_business'),
  OPPORTUNITY_DEFAULT_STAGE: z.string().default('new_lead'),
  STACK_DIR: z.string().default('.crm-env'),
  LOCAL_DB_PORT: port.default(54322),
  SANDBOX_DB_PORT: port.default(54332),
  PG_BIN: z.string().optional(),
  PG_DUMP: z.string().optional(),
  BACKUP_DIR: z.string().default('backups'),
});

/** Checks that `value` is a usable PostgreSQL URL; the error message never contains the password. */
export function parseDatabaseUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${name} is not a valid URL (${redactText(value)}); expected postgresql://user:password@host:port/database.`,
    );
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new ConfigError(`${name} must start with postgresql:// (got ${redactUrl(value)}).`);
  }
  if (!url.hostname) throw new ConfigError(`${name} has no host (${redactUrl(value)}).`);
  if (url.port && !/^\d+$/.test(url.port))
    throw new ConfigError(`${name} has an invalid port (${redactUrl(value)}).`);
  return url;
}

/** A key naming the database a URL points at, for "same database" checks before connecting. */
export function databaseKey(url: string): string {
  const u = new URL(url);
  const host =
    u.hostname === 'localhost' || u.hostname === '::1' || u.hostname === '[::1]' ? '127.0.0.1' : u.hostname;
  const db =
    decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  return `${host.toLowerCase()}:${u.port || '5432'}/${db}`;
}

/**
 * Reads and validates the configuration. Throws {@link ConfigError} (exit 2) with one sentence naming
 * the variable when something is malformed, or when local and cloud name the same database.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const projectDir = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? {};
  const stackDir = path.resolve(projectDir, env.STACK_DIR ?? '.crm-env');

  // Merge sources; remember where each value came from.
  const merged: Record<string, string> = {};
  const origin: Record<string, UrlSource> = {};
  for (const source of [...FILES].reverse()) {
    const file = fileFor(projectDir, source, stackDir);
    if (!existsSync(file)) continue;
    const parsed = parseDotenv(readFileSync(file));
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      origin[k] = source;
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '') {
      merged[k] = v;
      origin[k] = 'environment';
    }
  }

  const result = envSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? 'configuration');
    throw new ConfigError(`${key} is invalid: ${redactText(issue.message)}.`);
  }
  const e = result.data;

  const localUrl = e.LOCAL_DATABASE_URL ?? DEFAULT_LOCAL_URL;
  parseDatabaseUrl('LOCAL_DATABASE_URL', localUrl);
  const local: DatabaseTarget = {
    label: 'local',
    url: localUrl,
    source: e.LOCAL_DATABASE_URL === undefined ? 'default' : origin.LOCAL_DATABASE_URL!,
  };
  let cloud: DatabaseTarget | null = null;
  if (e.DATABASE_URL_PRODUCTION !== undefined) {
    parseDatabaseUrl('DATABASE_URL_PRODUCTION', e.DATABASE_URL_PRODUCTION);
    cloud = { label: 'cloud', url: e.DATABASE_URL_PRODUCTION, source: origin.DATABASE_URL_PRODUCTION! };
    if (databaseKey(cloud.url) === databaseKey(local.url)) {
      throw new ConfigError(
        `LOCAL_DATABASE_URL and DATABASE_URL_PRODUCTION name the same database (${redactUrl(local.url)}); the cloud must be a different database.`,
      );
    }
  }

  for (const [name, email] of [
    ['TEST_ADMIN_EMAIL', e.TEST_ADMIN_EMAIL],
    ['TEST_DIRECTOR_EMAIL', e.TEST_DIRECTOR_EMAIL],
    ['TEST_MANAGER_EMAIL', e.TEST_MANAGER_EMAIL],
  ] as const) {
    if (!isValidEmail(email))
      throw new ConfigError(`${name} is not a valid email address: ${JSON.stringify(email)}.`);
  }

  const stages = e.OPPORTUNITY_PIPELINE_STAGES.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknownStage = stages.find((s) => !(DEFAULT_PIPELINE_STAGES as readonly string[]).includes(s));
  if (unknownStage !== undefined || stages.length === 0) {
    throw new ConfigError(
      `OPPORTUNITY_PIPELINE_STAGES must list stages among ${DEFAULT_PIPELINE_STAGES.join(', ')} (got ${JSON.stringify(unknownStage ?? '')}).`,
    );
  }

  const overrides: Record<string, number> = {};
  if (e.SEED_ORGANIZATION_COUNT !== undefined) overrides.organizations = e.SEED_ORGANIZATION_COUNT;
  if (e.SEED_CONTACT_COUNT !== undefined) overrides.contacts = e.SEED_CONTACT_COUNT;
  if (e.SEED_OPPORTUNITY_COUNT !== undefined) overrides.opportunities = e.SEED_OPPORTUNITY_COUNT;
  if (e.SEED_ACTIVITY_COUNT !== undefined) overrides.activities = e.SEED_ACTIVITY_COUNT;
  if (e.SEED_PRODUCT_COUNT !== undefined) overrides.products = e.SEED_PRODUCT_COUNT;

  const secrets = [local.url, cloud?.url]
    .filter((u): u is string => u !== undefined)
    .map((u) => decodeURIComponent(new URL(u).password))
    .filter(Boolean);

  return {
    projectDir,
    local,
    cloud,
    testUsers: {
      adminEmail: e.TEST_ADMIN_EMAIL.toLowerCase(),
      directorEmail: e.TEST_DIRECTOR_EMAIL.toLowerCase(),
      managerEmail: e.TEST_MANAGER_EMAIL.toLowerCase(),
      password: e.TEST_USER_PASSWORD,
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
    pgDump: e.PG_DUMP ?? null,
    migrationsDir: path.join(projectDir, 'supabase', 'migrations'),
    secrets,
  };
}

/** A deliberately plain check: one @, a dot in the domain, no whitespace, quotes or control characters. */
export function isValidEmail(email: string): boolean {
  const hasControl = [...email].some((ch) => ch.charCodeAt(0) < 0x20);
  return !hasControl && /^[^\s@"'\\;<>(),]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(email) && email.length <= 254;
}

/**
 * Resolves a `--target` value: `local`, `cloud`, or a postgresql:// URL.
 * @throws ConfigError when the cloud is requested but not configured, or the URL is malformed.
 */
export function resolveTarget(config: Config, target: string): DatabaseTarget {
  if (target === 'local') return config.local;
  if (target === 'cloud') {
    if (!config.cloud) {
      throw new ConfigError(
        'No cloud database is configured: set DATABASE_URL_PRODUCTION (see .env.production.example) or start the embedded stack with `npm run stack:up`.',
      );
    }
    return config.cloud;
  }
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
