/**
 * Runs in every test file (vitest `setupFiles`): when the file ends, after its own hooks, the
 * databases it made through test/support/db.ts are dropped, so a run does not pile up hundreds of
 * clones (gigabytes) for the teardown to remove.
 */
import { afterAll } from 'vitest';
import { dropTestDatabases } from './db.js';

afterAll(dropTestDatabases);
