/**
 * Hostile class: out-of-range and malformed values for every configuration variable. Table-driven
 * through loadConfig (each row: exit 2, the variable named, one sentence per problem), and a few
 * through the CLI, where the databases must stay byte-identical.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import {
  contentOfAll,
  envFor,
  expectOneClearSentence,
  project,
  removeTempFolders,
  runCli,
  seededPair,
  USUAL,
} from './support.js';
import type { Via } from './support.js';

afterAll(removeTempFolders);

const BASE = { LOCAL_DATABASE_URL: 'postgresql://postgres:pw@127.0.0.1:5/a' };

/** [variable, value]: every row must be refused by loadConfig with a ConfigError naming the variable. */
const BAD: readonly (readonly [string, string])[] = [
  ['LOCAL_DATABASE_URL', 'not a url'],
  ['LOCAL_DATABASE_URL', 'http://127.0.0.1:5432/postgres'],
  ['LOCAL_DATABASE_URL', 'postgresql://u:p@127.0.0.1:99999/db'],
  ['DATABASE_URL_PRODUCTION', 'mysql://u:p@db.example:3306/x'],
  ['DATABASE_URL_PRODUCTION', 'postgresql://u:p@:5432/x'],
  ['TEST_ADMIN_EMAIL', 'someone@gmail.com'],
  ['TEST_ADMIN_EMAIL', 'no-at-sign'],
  ['TEST_DIRECTOR_EMAIL', "o'hara@test.local"],
  ['TEST_DIRECTOR_EMAIL', 'director@test.local.evil.com'],
  ['TEST_MANAGER_EMAIL', 'admin@test.local'],
  ['TEST_USER_PASSWORD', '12345'],
  ['TEST_USER_PASSWORD', 'x'.repeat(73)],
  ['TEST_EMAIL_DOMAIN', 'gmail.com'],
  ['TEST_EMAIL_DOMAIN', 'test.local; drop table x'],
  ['TEST_EMAIL_DOMAIN', 'example.com'],
  ['SEED', 's'.repeat(201)],
  ['SEED_ORGANIZATION_COUNT', '-1'],
  ['SEED_ORGANIZATION_COUNT', 'many'],
  ['SEED_CONTACT_COUNT', '1.5'],
  ['SEED_CONTACT_COUNT', '1e12'],
  ['SEED_OPPORTUNITY_COUNT', '-1'],
  ['SEED_OPPORTUNITY_COUNT', '1e12'],
  ['SEED_ACTIVITY_COUNT', 'Infinity'],
  ['SEED_PRODUCT_COUNT', '12abc'],
  ['SEED_PRODUCT_COUNT', '1e12'],
  ['OPPORTUNITY_PIPELINE_STAGES', 'not_a_stage'],
  ['OPPORTUNITY_PIPELINE_STAGES', 'new_lead,new_lead'],
  ['OPPORTUNITY_MAX_AMOUNT', '1e16'],
  ['OPPORTUNITY_MAX_AMOUNT', '1e13'],
  ['OPPORTUNITY_MAX_AMOUNT', '0'],
  ['OPPORTUNITY_MAX_AMOUNT', 'NaN'],
  ['OPPORTUNITY_DEFAULT_PROBABILITY', '101'],
  ['OPPORTUNITY_DEFAULT_PROBABILITY', '-1'],
  ['OPPORTUNITY_DEFAULT_PROBABILITY', '50.5'],
  ['OPPORTUNITY_DEFAULT_CATEGORY', 'bogus'],
  ['OPPORTUNITY_DEFAULT_CATEGORY', 'NEW_BUSINESS'],
  ['OPPORTUNITY_DEFAULT_STAGE', 'bogus'],
  ['LOCAL_DB_PORT', '0'],
  ['LOCAL_DB_PORT', '65536'],
  ['LOCAL_DB_PORT', 'http'],
  ['SANDBOX_DB_PORT', '80.5'],
];

describe('hostile configuration: every variable, malformed and out of range (loadConfig)', () => {
  it.each(BAD)('%s=%j is refused with exit 2, naming the variable', (name, value) => {
    let caught: unknown;
    try {
      loadConfig({ cwd: '/nonexistent-crm-env-project', env: { ...BASE, [name]: value } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.exitCode).toBe(2);
    expect(`${err.message}\n${err.details.join('\n')}`).toContain(name);
    expect(err.message).not.toMatch(/\n/);
    // A secret never comes back in the sentence.
    expect(err.message).not.toContain(':pw@');
    expect(err.message).not.toContain(':p@');
  });

  it('a stage outside OPPORTUNITY_PIPELINE_STAGES, equal ports and a bad count are reported together', () => {
    const err = (() => {
      try {
        loadConfig({
          cwd: '/nonexistent-crm-env-project',
          env: {
            ...BASE,
            OPPORTUNITY_PIPELINE_STAGES: 'new_lead,closed_won',
            OPPORTUNITY_DEFAULT_STAGE: 'demo_scheduled',
            LOCAL_DB_PORT: '6000',
            SANDBOX_DB_PORT: '6000',
            SEED_CONTACT_COUNT: '-3',
          },
        });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.details).toHaveLength(3);
  });
});

describe('hostile configuration through the CLI: exit 2, one sentence, both databases unchanged', () => {
  const CASES: readonly { name: string; args: string[]; env: Record<string, string>; via?: Via }[] = [
    {
      name: 'TEST_EMAIL_DOMAIN=gmail.com, sync push',
      args: ['sync', 'push', '--force'],
      env: { TEST_EMAIL_DOMAIN: 'gmail.com' },
      via: 'cli',
    },
    {
      name: 'TEST_ADMIN_EMAIL outside the domain, users create --target cloud',
      args: ['users', 'create', '--target', 'cloud'],
      env: { TEST_ADMIN_EMAIL: 'ceo@company.com' },
    },
    {
      name: 'OPPORTUNITY_MAX_AMOUNT=1e16, users create',
      args: ['users', 'create'],
      env: { OPPORTUNITY_MAX_AMOUNT: '1e16' },
    },
    {
      name: 'SEED_CONTACT_COUNT=-1, reset --yes',
      args: ['reset', '--yes'],
      env: { SEED_CONTACT_COUNT: '-1' },
    },
    {
      name: 'PG_DUMP that is not pg_dump, reset --yes (found by the preflight)',
      args: ['reset', '--yes'],
      env: { PG_DUMP: '/bin/true' },
      via: 'cli',
    },
    {
      name: 'PG_DUMP that is not pg_dump, migrate deploy cloud --yes',
      args: ['migrate', 'deploy', 'cloud', '--yes'],
      env: { PG_DUMP: '/bin/true' },
    },
  ];
  it.concurrent.each(CASES)('$name', async ({ args, env, via }) => {
    const urls = await seededPair({ ...USUAL, cloud: { tag: 'cloud', realUserSales: true } });
    const before = await contentOfAll([urls.local, urls.cloud]);
    const dir = project(args[1] === 'deploy' ? { '20991231000000_x.sql': 'select 1;\n' } : {});
    const r = await runCli(args, dir, envFor(dir, urls, env), via ?? 'library');
    expect(r.code).toBe(2);
    expectOneClearSentence(r.stderr);
    expect(await contentOfAll([urls.local, urls.cloud])).toEqual(before);
  });
});
