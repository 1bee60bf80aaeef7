/**
 * The generated data, pinned: a sha256 of the COPY text every seeded table receives (in load order)
 * and of the counts recorded in test_user_metadata, for the default SEED, users and volumes exactly
 * as `users create` reads them from an empty configuration.
 *
 * It changes only on purpose: a new catalogue entry, a changed template, or a new version of a
 * dependency that shapes the data (@faker-js/faker, uuid — both pinned to exact versions in
 * package.json for this reason). Re-record it then, and say so in the commit.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { encodeCopyChunks } from '../src/db/copy-text.js';
import { seedStreamForConfig, testUserSpecs } from '../src/dev/test-users.js';
import { SEED_COLUMN_TYPES } from '../src/seed/generate.js';

const EXPECTED_SHA256 = 'd1d21c3060be508f62968bb688a5aa767af5860c2216e998de3fb6b76a1dce44';

describe('seed data digest', () => {
  it('the default SEED and volumes generate exactly the pinned data', () => {
    // A folder that does not exist: no .env file can change the defaults.
    const config = loadConfig({ cwd: path.join(os.tmpdir(), 'crm-env-seed-digest-no-project'), env: {} });
    const specs = testUserSpecs(config);
    const stream = seedStreamForConfig(config, specs);
    const hash = createHash('sha256');
    for (const table of stream.tables) {
      const types = SEED_COLUMN_TYPES[table.name];
      hash.update(`${table.name}\n`);
      for (const chunk of encodeCopyChunks(table.rows, Object.keys(types), Object.values(types)))
        hash.update(chunk);
    }
    hash.update(JSON.stringify(specs.map((s) => stream.countsByUser.get(s.id))));
    expect(hash.digest('hex')).toBe(EXPECTED_SHA256);
  });

  it('pins every dependency that shapes the data to an exact version', () => {
    const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of ['@faker-js/faker', 'uuid']) expect(dependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
