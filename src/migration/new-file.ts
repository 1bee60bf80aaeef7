/**
 * `migrate new <name>`: an empty migration file named as `supabase migration new` names it,
 * `<YYYYMMDDHHMMSS>_<name>.sql` with the current UTC time, so both tools can create files in one folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { readMigrations } from './files.js';

/** The Supabase CLI's version: UTC time as YYYYMMDDHHMMSS. */
export function migrationVersion(now: Date): string {
  return now.toISOString().replace(/\D/g, '').slice(0, 14);
}

/** A name the strict file rule accepts: lower case, runs of anything else as one `_`. */
export function migrationName(raw: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 100);
  if (name === '')
    throw new UsageError(
      `The migration name ${JSON.stringify(raw)} has no letters or digits; name what it does, e.g. add_contact_source.`,
    );
  return name;
}

export interface NewMigration {
  readonly file: string;
  readonly version: string;
  readonly name: string;
}

/**
 * Creates the file (never overwriting).
 * @throws UsageError (exit 2, nothing written) when the version exists already, or a newer one does:
 * the new file would sort before it and never be applied where that one is.
 */
export async function createMigrationFile(
  dir: string,
  rawName: string,
  now = new Date(),
): Promise<NewMigration> {
  const name = migrationName(rawName);
  const version = migrationVersion(now);
  const newest = (await readMigrations(dir)).files.at(-1);
  if (newest && newest.version >= version)
    throw new UsageError(
      newest.version === version
        ? `A migration with version ${version} exists already (${newest.fileName}); wait a second and run it again. Nothing was written.`
        : `${newest.fileName} has a newer version than now (${version}); a new file would sort before it. Check the clock, or rename that file. Nothing was written.`,
    );
  const file = path.join(dir, `${version}_${name}.sql`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, '', { flag: 'wx' });
  return { file, version, name };
}
