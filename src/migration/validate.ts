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
import type { MigrationFile } from './files.js';
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
 * The rehearsal, unless turned off or pointless (files that do not parse, duplicate versions); `attempted`
 * tells a skip by the server (a warning) from those.
 */
async function rehearsalStep(
  config: Config,
  files: readonly MigrationFile[],
  findings: readonly Finding[],
  options: ValidateOptions,
  reporter: Reporter,
): Promise<{ rehearsal: RehearsalResult; attempted: boolean }> {
  const skipped = (reason: string) => ({
    rehearsal: { status: 'skipped', reason, files: [], ms: 0 } as const,
    attempted: false,
  });
  if (options.rehearsal === false) return skipped('turned off (--no-rehearsal)');
  if (findings.some((f) => f.rule === 'parse-error' || f.rule === 'duplicate-version')) {
    return skipped('the files do not parse or have duplicate versions; fix those errors first');
  }
  reporter.step('Rehearsing every migration from scratch on a throwaway database');
  return { rehearsal: await rehearse(config, files, reporter), attempted: true };
}

/** The rehearsal's failure and failed post-checks, as findings. */
function rehearsalFindings(rehearsal: RehearsalResult): Finding[] {
  const out: Finding[] = [];
  if (rehearsal.failure) {
    const { file, line, message } = rehearsal.failure;
    const fix =
      'Fix the migration; the rehearsal applies every file from scratch, as a new environment would.';
    out.push({ file, line, rule: 'rehearsal-failed', severity: 'error', message, fix });
  }
  for (const c of rehearsal.postChecks?.checks ?? []) {
    if (!c.ok) {
      const message = `After the rehearsal: ${c.detail}.`;
      out.push({
        file: '',
        line: 0,
        rule: `post-check:${c.name}`,
        severity: 'error',
        message,
        fix: 'Fix it in a migration.',
      });
    }
  }
  return out;
}

/** One report per file (its findings, whether the target applied it, its rehearsal), and the rest. */
function fileReports(
  files: readonly MigrationFile[],
  findings: readonly Finding[],
  rehearsal: RehearsalResult,
  applied: ReadonlySet<string> | undefined,
): { files: FileReport[]; other: Finding[] } {
  const byFile = new Map(files.map((f) => [f.fileName, [] as Finding[]]));
  const other: Finding[] = [];
  for (const f of findings) (byFile.get(f.file) ?? other).push(f);
  const outcomes = new Map(rehearsal.files.map((o) => [o.fileName, o]));
  const reports = files.map((f): FileReport => {
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
  return { files: reports, other };
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
  const { rehearsal, attempted } = await rehearsalStep(config, files, checked.findings, options, reporter);
  const findings = [...checked.findings, ...rehearsalFindings(rehearsal)];
  const applied = checked.applied;
  // A rehearsal that could not run is a warning; one turned off on purpose (or pointless because of parse
  // errors, which are errors already) is not.
  const skippedByServer = attempted && rehearsal.status === 'skipped';
  return {
    migrationsDir: config.migrationsDir,
    ...fileReports(files, findings, rehearsal, applied),
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
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length + (skippedByServer ? 1 : 0),
    ms: performance.now() - t0,
  };
}
