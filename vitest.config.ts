import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Once per run: dist/ rebuilt, one root temp folder, one pair of real PostgreSQL servers; at the
    // end every server is stopped and the folder removed (test/support/global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // In every test file: its databases are dropped when it ends (test/support/per-file.ts).
    setupFiles: ['test/support/per-file.ts'],
    // A hang guard, not a speed check: tests assert no timing, and must pass on a busy 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each test file gets its own databases cloned from a template, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
