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
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { encodeCopyRows } from '../src/db/copy-text.js';
import { generateForConfig, testUserSpecs } from '../src/dev/test-users.js';
import { SEED_COLUMN_TYPES, SEED_TABLES } from '../src/seed/generate.js';

const EXPECTED_SHA256 = 'd1d21c3060be508f62968bb688a5aa767af5860c2216e998de3fb6b76a1dce44';

describe('seed data digest', () => {
  it('the default SEED and volumes generate exactly the pinned data', () => {
    // A folder that does not exist: no .env file can change the defaults.
    const config = loadConfig({ cwd: path.join(os.tmpdir(), 'crm-env-seed-digest-no-project'), env: {} });
    const specs = testUserSpecs(config);
    const data = generateForConfig(config, specs);
    const hash = createHash('sha256');
    for (const table of SEED_TABLES) {
      const types = SEED_COLUMN_TYPES[table];
      hash.update(`${table}\n`);
      hash.update(encodeCopyRows(data.tables.get(table) ?? [], Object.keys(types), Object.values(types)));
    }
    hash.update(JSON.stringify(specs.map((s) => data.countsByUser.get(s.id))));
    expect(hash.digest('hex')).toBe(EXPECTED_SHA256);
  });
});
