import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder. This file sits one level below it both as source (src/paths.ts) and
 * compiled (dist/paths.js), so the same expression works for tests and the built CLI.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** SQL files shipped with the package. */
export const BASE_SCHEMA_FILE = path.join(PACKAGE_ROOT, 'sql', 'base-schema.sql');
