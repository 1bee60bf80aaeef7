#!/usr/bin/env node
/**
 * Turns the JSON of `crm-env migrate deploy --json` (dry run or real) into Markdown for a GitHub job
 * summary ($GITHUB_STEP_SUMMARY): the outcome, then one row per pending file with its result.
 *
 *   node scripts/deploy-summary.mjs <report.json> "<title>" >> "$GITHUB_STEP_SUMMARY"
 *
 * The report is crm-env's own output: URLs in it are already redacted, and it holds no table rows.
 * A missing or unreadable report (the command failed before printing) gives a line saying so.
 */
import { readFileSync } from 'node:fs';

const [file, title = 'Migration deploy'] = process.argv.slice(2);
const cell = (v) =>
  String(v ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ')
    .slice(0, 300);

let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  process.stdout.write(
    `### ${title}\n\nNo report: the command failed before printing one (see the job log).\n`,
  );
  process.exit(0);
}
const rows = (report.dryRun ? report.dryRunFiles : report.files) ?? [];
const lines = [
  `### ${title}`,
  '',
  `Target: \`${cell(report.url)}\` — outcome **${cell(report.outcome)}**, ${report.pending?.length ?? 0} pending, ${report.alreadyApplied ?? 0} already applied.`,
  '',
];
if (report.error) lines.push(`> ${cell(report.error)}`, '');
if (rows.length > 0) {
  lines.push('| File | Result | ms | Line | Error |', '|---|---|---:|---:|---|');
  for (const f of rows)
    lines.push(
      `| ${cell(f.fileName)} | ${cell(f.status)} | ${Math.round(f.ms ?? 0)} | ${cell(f.line)} | ${cell(f.error)} |`,
    );
  lines.push('');
}
const findings = report.findings ?? [];
if (findings.length > 0) {
  lines.push('| Finding | Severity | File | Message |', '|---|---|---|---|');
  for (const f of findings)
    lines.push(`| ${cell(f.rule)} | ${cell(f.severity)} | ${cell(f.file)} | ${cell(f.message)} |`);
  lines.push('');
}
process.stdout.write(`${lines.join('\n')}\n`);
