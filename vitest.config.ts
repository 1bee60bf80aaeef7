import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One pair of real PostgreSQL servers per run, started here and stopped at the end.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each test file gets its own databases cloned from a template, so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
