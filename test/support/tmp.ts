/**
 * Temporary folders for tests, all under the run's root folder (made by global setup, removed by its
 * teardown even when tests fail), so a run leaves nothing behind in the system temp folder.
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

/** A new, empty folder (mode 0700) under the run's root temporary folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(inject('tmpRoot'), `${prefix}-`));
}
