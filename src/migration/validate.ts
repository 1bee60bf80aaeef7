/**
 * `crm-env migrate validate` (npm run migrate:validate / validate:pre-migration / migration:validate):
 * file names, duplicate versions, parsing, transaction hazards, the lint pass, and — with a target — the
 * target's history (edited-after-apply files, out-of-order pending files); then a rehearsal from scratch on
 * a throwaway database with the post-migration checks. Read-only on the target.
 */
import { performance } from 'node:perf_hooks';
import type { Config, DatabaseTarget } from '../config.js';
import { withClient } from '../db/connect.js';
import type { Reporter } from '../reporter.js';
import { silentReporter } from '../reporter.js';
import type { FileOutcome } from './apply.js';
import type { Finding, TargetFacts } from './checks.js';
import { readTargetFacts, runStaticChecks } from './checks.js';
import { readMigrations } from './files.js';
import type { RehearsalResult } from './rehearsal.js';
import { rehearse } from './rehearsal.js';

export interface ValidateOptions {
  /** Also compare with this database: history, edited-after-apply files, its tables for the lint. */
  readonly target?: DatabaseTarget;
  /** Default true. */
  readonly rehearsal?: boolean;
}

export interface FileReport {
  readonly fileName: string;
  readonly version: string;
  readonly status: 'ok' | 'warning' | 'error';
  /** Applied on the target already (only with a target). */
  readonly applied?: boolean;
  readonly findings: readonly Finding[];
  /** What the rehearsal did with this file. */
  readonly rehearsal?: FileOutcome;
}

export interface ValidateReport {
  readonly migrationsDir: string;
  readonly files: readonly FileReport[];
  /** Findings about names that are not migration files, and about the target's history as a whole. */
  readonly other: readonly Finding[];
  readonly target?: { readonly label: string; readonly applied: number; readonly pending: readonly string[] };
  readonly rehearsal: RehearsalResult;
  readonly errors: number;
  readonly warnings: number;
  readonly ms: number;
}

/** Exit code of a report: 1 on any error, or on any warning with `strict`; else 0. */
export function validateExitCode(report: ValidateReport, strict = false): 0 | 1 {
  return report.errors > 0 || (strict && report.warnings > 0) ? 1 : 0;
}

/**
 * Runs every check. Never throws for what it finds (that is the report); throws CrmEnvError when the
 * target or the local server cannot be reached.
 */
export async function validateMigrations(
  config: Config,
  options: ValidateOptions = {},
  reporter: Reporter = silentReporter,
): Promise<ValidateReport> {
  const t0 = performance.now();
  const { files } = await readMigrations(config.migrationsDir);
  let facts: TargetFacts | undefined;
  if (options.target) {
    reporter.step(`Comparing with the ${options.target.label} database's migration history`);
    facts = await withClient(options.target.url, readTargetFacts, { label: options.target.label });
  }
  const checked = await runStaticChecks(config.migrationsDir, files, facts);
  const findings: Finding[] = [...checked.findings];
  const applied = checked.applied;

  let rehearsal: RehearsalResult;
  let rehearsalSkippedByServer = false;
  const blocking = findings.filter((f) => f.rule === 'parse-error' || f.rule === 'duplicate-version');
  if (options.rehearsal === false) {
    rehearsal = { status: 'skipped', reason: 'turned off (--no-rehearsal)', files: [], ms: 0 };
  } else if (blocking.length > 0) {
    rehearsal = {
      status: 'skipped',
      reason: 'the files do not parse or have duplicate versions; fix those errors first',
      files: [],
      ms: 0,
    };
  } else {
    reporter.step('Rehearsing every migration from scratch on a throwaway database');
    rehearsal = await rehearse(config, files, reporter);
    rehearsalSkippedByServer = rehearsal.status === 'skipped';
  }
  if (rehearsal.failure) {
    const { file, line, message } = rehearsal.failure;
    findings.push({
      file,
      line,
      rule: 'rehearsal-failed',
      severity: 'error',
      message,
      fix: 'Fix the migration; the rehearsal applies every file from scratch, as a new environment would.',
    });
  }
  for (const c of rehearsal.postChecks?.checks ?? []) {
    if (!c.ok)
      findings.push({
        file: '',
        line: 0,
        rule: `post-check:${c.name}`,
        severity: 'error',
        message: `After the rehearsal: ${c.detail}.`,
        fix: 'Fix it in a migration.',
      });
  }

  const byFile = new Map(files.map((f) => [f.fileName, [] as Finding[]]));
  const other: Finding[] = [];
  for (const f of findings) (byFile.get(f.file) ?? other).push(f);
  const outcomes = new Map(rehearsal.files.map((o) => [o.fileName, o]));
  const reports: FileReport[] = files.map((f) => {
    const own = byFile.get(f.fileName)!.sort((a, b) => a.line - b.line);
    const status = own.some((x) => x.severity === 'error') ? 'error' : own.length > 0 ? 'warning' : 'ok';
    return {
      fileName: f.fileName,
      version: f.version,
      status,
      ...(applied ? { applied: applied.has(f.version) } : {}),
      findings: own,
      ...(outcomes.has(f.fileName) ? { rehearsal: outcomes.get(f.fileName) } : {}),
    };
  });
  const errors = findings.filter((f) => f.severity === 'error').length;
  // A rehearsal that could not run is a warning; one turned off on purpose (or pointless because of parse
  // errors, which are errors already) is not.
  const warnings =
    findings.filter((f) => f.severity === 'warning').length + (rehearsalSkippedByServer ? 1 : 0);
  return {
    migrationsDir: config.migrationsDir,
    files: reports,
    other,
    ...(options.target && applied
      ? {
          target: {
            label: options.target.label,
            applied: applied.size,
            pending: (checked.pending ?? []).map((f) => f.fileName),
          },
        }
      : {}),
    rehearsal,
    errors,
    warnings,
    ms: performance.now() - t0,
  };
}
