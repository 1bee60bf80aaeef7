/**
 * Reads the one setting of supabase/config.toml the embedded stack follows: `[db] major_version`, the
 * PostgreSQL major version `supabase start` runs (it must equal the cloud project's). A small reader for
 * that key, not a TOML parser: `major_version = 17` (a trailing `# comment` allowed) inside `[db]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/** The major version named in `<supabaseDir>/config.toml`, or null when there is no file or no key. */
export function configuredMajorVersion(supabaseDir: string): number | null {
  const file = path.join(supabaseDir, 'config.toml');
  if (!existsSync(file)) return null;
  let section = '';
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'db') continue;
    const m = /^major_version\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = m[1]!.trim();
    if (!/^\d+$/.test(value) || Number(value) < 10 || Number(value) > 99) {
      throw new ConfigError(
        `${file}: [db] major_version must be a PostgreSQL major version such as 15 or 17 (got ${JSON.stringify(value)}).`,
      );
    }
    return Number(value);
  }
  return null;
}
