import { resolveTarget, describeTarget } from '../../config.js';
import type { FileOutcome } from '../../migration/apply.js';
import type { DeployReport } from '../../migration/deploy.js';
import { describeEffect } from '../../migration/effects.js';
import { DeployError, deployMigrations } from '../../migration/deploy.js';
import type { ValidateReport } from '../../migration/validate.js';
import { validateExitCode, validateMigrations } from '../../migration/validate.js';
import { formatBytes, shownPath } from '../../format.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { terminalConfirmer } from '../prompt.js';
import { withInterrupts } from '../interrupt.js';
import { migrateUpWithPreflight } from '../../preflight/migration-needs.js';
import type { Output } from '../output.js';

export async function migrateUpCommand(
  session: CliSession,
  opts: { target: string; includeAll?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const target = resolveTarget(config, opts.target);
  out.line(`🗂️  Applying migrations to ${describeTarget(target)}`);
  const result = await withInterrupts(out, (signal) =>
    migrateUpWithPreflight(config, target, {
      includeAll: opts.includeAll ?? false,
      reporter: out,
      onFile: (f, i, n) => out.progress({ label: f.fileName, done: i, total: n, unit: 'files' }),
      signal,
    }),
  );
  for (const f of result.files) out.info(`✓ ${f.fileName}: ${describeOutcome(f)}`);
  const alone = result.files.filter((f) => f.outsideTransaction).length;
  out.line(
    result.files.length === 0
      ? `✅ Up to date (${result.alreadyApplied} migrations already applied).`
      : `✅ Applied ${result.files.length} migration(s): ${result.files.length - alone} in one transaction${alone > 0 ? `, ${alone} on their own (cannot run in a transaction)` : ''}.`,
  );
  const applied = result.files.map((f) => ({
    version: f.version,
    fileName: f.fileName,
    ms: f.ms,
    ...(f.outsideTransaction ? { outsideTransaction: f.outsideTransaction } : {}),
  }));
  out.json({ target: target.label, applied, alreadyApplied: result.alreadyApplied });
  return 0;
}

const ICON = { ok: '✅', warning: '⚠️ ', error: '❌' } as const;

function printValidateReport(out: Output, r: ValidateReport): void {
  out.line();
  for (const f of r.files) {
    const took = f.rehearsal?.ms === undefined ? '' : ` (rehearsal ${f.rehearsal.ms.toFixed(0)} ms)`;
    out.line(
      `${ICON[f.status]} ${f.fileName}${f.applied === undefined ? '' : f.applied ? ' [applied]' : ' [pending]'}${took}`,
    );
    for (const x of f.findings) {
      out.info(`${x.severity === 'error' ? 'error' : 'warning'} line ${x.line} [${x.rule}] ${x.message}`);
      out.info(`   fix: ${x.fix}`);
    }
  }
  for (const x of r.other)
    out.line(
      `${x.severity === 'error' ? '❌' : '⚠️ '} ${x.file ? `${x.file}: ` : ''}[${x.rule}] ${x.message}`,
    );
  const rh = r.rehearsal;
  out.line();
  if (rh.status === 'skipped') out.line(`⚠️  Rehearsal skipped: ${rh.reason}`);
  else
    out.line(
      `${rh.status === 'ok' ? '✅' : '❌'} Rehearsal on a throwaway database: ${rh.status} (${(rh.ms / 1000).toFixed(2)} s)`,
    );
  for (const c of rh.postChecks?.checks ?? []) out.info(`${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
  out.line();
}

/** `npm run migrate:validate [-- --target <t>] [--strict] [--no-rehearsal] [--json]`. */
export async function validateCommand(
  session: CliSession,
  opts: { target?: string; strict?: boolean; rehearsal?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const target = opts.target === undefined ? undefined : resolveTarget(config, opts.target);
  out.line(`🔍 Validating ${shownPath(config.projectDir, config.migrationsDir)}`);
  const report = await validateMigrations(config, { target, rehearsal: opts.rehearsal !== false }, out);
  const code = validateExitCode(report, opts.strict ?? false);
  out.json({ ...report, strict: opts.strict ?? false, exitCode: code });
  printValidateReport(out, report);
  const summary = `${report.files.length} file(s), ${report.errors} error(s), ${report.warnings} warning(s)`;
  out.line(
    code === 0
      ? `✅ Validation passed: ${summary}. Safe to migrate.`
      : `❌ Validation failed: ${summary}. Fix the issues before migrating.`,
  );
  return code;
}

function describeOutcome(f: FileOutcome): string {
  const time = f.ms === undefined ? '' : ` ${f.ms.toFixed(0)} ms`;
  const outside = f.outsideTransaction ? ' (outside the transaction)' : '';
  const effects = (f.effects ?? []).map((e) => `; ${describeEffect(e)}`).join('');
  return `${f.status}${time}${outside}${f.error ? ` — line ${f.line}: ${f.error}` : ''}${effects}`;
}

function printDeploySummary(out: Output, r: DeployReport, projectDir: string): void {
  out.line();
  out.line('📋 Deploy summary');
  out.info(`Target: ${r.url} (${r.target})`);
  out.info(`Already applied: ${r.alreadyApplied}; pending: ${r.pending.length}`);
  const rows = r.files.length > 0 ? r.files : r.dryRunFiles;
  for (const f of rows) out.info(`${f.fileName}: ${describeOutcome(f)}`);
  if (r.attempts > 1) out.info(`Attempts (lock timeout retries): ${r.attempts}`);
  if (r.backup) out.info(`Backup: ${shownPath(projectDir, r.backup.file)} (${formatBytes(r.backup.bytes)})`);
  out.info(`Duration: ${(r.ms / 1000).toFixed(2)} s`);
}

/** `npm run migrate:deploy -- [local|cloud|<url>] [--dry-run] [--yes] [--lock-timeout 5s] [--retries 3] [--json]`. */
export async function deployCommand(
  session: CliSession,
  opts: {
    target: string;
    dryRun?: boolean;
    yes?: boolean;
    lockTimeout?: string;
    statementTimeout?: string;
    retries?: number;
    includeAll?: boolean;
  },
): Promise<number> {
  const { config, out } = commandContext(session);
  const t = resolveTarget(config, opts.target);
  out.line(`🚀 Safe migration deploy${opts.dryRun ? ' (dry run)' : ''} — ${describeTarget(t)}`);
  let report: DeployReport;
  try {
    report = await withInterrupts(out, (signal) =>
      deployMigrations(
        config,
        t,
        {
          dryRun: opts.dryRun,
          confirm: terminalConfirmer({ yes: opts.yes, json: session.json }),
          lockTimeout: opts.lockTimeout,
          statementTimeout: opts.statementTimeout,
          retries: opts.retries,
          includeAll: opts.includeAll,
          signal,
        },
        out,
      ),
    );
  } catch (err) {
    if (err instanceof DeployError) {
      out.json(err.report);
      printDeploySummary(out, err.report, config.projectDir);
    } else out.json({ target: t.label });
    throw err;
  }
  out.json(report);
  printDeploySummary(out, report, config.projectDir);
  out.line();
  switch (report.outcome) {
    case 'up-to-date':
      out.line(`✅ Up to date: ${report.alreadyApplied} migration(s) applied, nothing pending.`);
      break;
    case 'dry-run-ok':
      out.line(
        `✅ Dry run passed: ${report.pending.length} migration(s) would apply cleanly (rolled back; nothing changed).`,
      );
      break;
    default:
      out.line(`✅ Deployed ${report.pending.length} migration(s); post-migration checks passed.`);
  }
  return 0;
}
