/**
 * The command line's contract, without a database: for every command and alias, argv → (exit code,
 * the options object the command receives). The commands themselves are replaced by a recorder.
 * Then every command's `--json` failure document, from the real commands.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandRun, Dispatch } from '../src/cli/program.js';
import { buildProgram, leafCommands } from '../src/cli/program.js';
import { runMain, tempProject } from './support/cli.js';
import { tempDir } from './support/tmp.js';

type Case = readonly [argv: readonly string[], code: number, run?: CommandRun];

const URL = 'postgresql://postgres@db.example.test:5432/postgres';
const DEPLOY = { target: 'cloud', lockTimeout: '5s', retries: 3 };

const CASES: readonly Case[] = [
  [[], 2],
  [['users'], 2],
  [['migrate'], 2],
  [['sync', '--json'], 2],
  [['stack'], 2],
  [['--help'], 0],
  [['--version'], 0],
  [['nonsense'], 2],
  [['users', 'create'], 0, { path: 'users create', options: { target: 'local' } }],
  [['users', 'create', URL], 0, { path: 'users create', options: { target: URL } }],
  [
    ['users', 'create', '--target', 'cloud', '--json'],
    0,
    { path: 'users create', options: { target: 'cloud', json: true } },
  ],
  [['users', 'create', URL, '--target', 'cloud'], 2],
  [['users', 'create', URL, '--target', URL], 0, { path: 'users create', options: { target: URL } }],
  [['users', 'check', '--target', 'cloud'], 0, { path: 'users check', options: { target: 'cloud' } }],
  [['users', 'check', 'cloud'], 2],
  [['seed'], 2],
  [['seed', 'export'], 0, { path: 'seed export', options: {} }],
  [
    ['seed', 'export', '--output', 'seed.sql', '--yes', '--json'],
    0,
    { path: 'seed export', options: { output: 'seed.sql', yes: true, json: true } },
  ],
  [['seed', 'export', '--check'], 0, { path: 'seed export', options: { check: true } }],
  [['seed', 'export', 'seed.sql'], 2],
  [['seed', 'export', '--target', 'local'], 2],
  [['sync', 'push'], 0, { path: 'sync push', options: {} }],
  [['sync', 'push', '--force'], 0, { path: 'sync push', options: { yes: true } }],
  [['sync', 'push', '--yes', '--json'], 0, { path: 'sync push', options: { yes: true, json: true } }],
  [['sync', 'push', '--dry-run'], 0, { path: 'sync push', options: { dryRun: true } }],
  [
    ['sync', 'push', '--dry-run', '--delete-non-test-data', '--json'],
    0,
    { path: 'sync push', options: { dryRun: true, deleteNonTestData: true, json: true } },
  ],
  [['verify'], 0, { path: 'verify', options: { target: 'cloud', limit: 10 } }],
  [
    ['verify', '--diff', '--limit', '3', '--target', URL],
    0,
    { path: 'verify', options: { target: URL, diff: true, limit: 3 } },
  ],
  [['verify', '--limit', '0'], 2],
  [['verify', '--bogus'], 2],
  [['reset'], 0, { path: 'reset', options: {} }],
  [
    ['reset', '--yes', '--local-only', '--json'],
    0,
    { path: 'reset', options: { yes: true, localOnly: true, json: true } },
  ],
  [['migrate', 'status', '--json'], 0, { path: 'migrate status', options: { json: true } }],
  [
    ['migrate', 'new', 'Add contact source'],
    0,
    { path: 'migrate new', options: { name: 'Add contact source' } },
  ],
  [['migrate', 'new'], 2],
  [['migrate', 'up'], 0, { path: 'migrate up', options: { target: 'local' } }],
  [
    ['migrate', 'up', '--target', 'cloud', '--include-all'],
    0,
    { path: 'migrate up', options: { target: 'cloud', includeAll: true } },
  ],
  [['migrate', 'validate'], 0, { path: 'migrate validate', options: { rehearsal: true } }],
  [
    ['migrate', 'validate', '--no-rehearsal', '--strict', '--target', 'cloud'],
    0,
    { path: 'migrate validate', options: { rehearsal: false, strict: true, target: 'cloud' } },
  ],
  [['migrate', 'deploy'], 0, { path: 'migrate deploy', options: DEPLOY }],
  [
    ['migrate', 'deploy', 'cloud', '--dry-run'],
    0,
    { path: 'migrate deploy', options: { ...DEPLOY, dryRun: true } },
  ],
  [
    ['migrate', 'deploy', '--target', 'local', '--yes', '--retries', '0'],
    0,
    { path: 'migrate deploy', options: { ...DEPLOY, target: 'local', yes: true, retries: 0 } },
  ],
  [['migrate', 'deploy', 'local', '--target', 'cloud'], 2],
  [['migrate', 'deploy', '--retries', 'x'], 2],
  [['migrate', 'deploy', 'cloud', 'local'], 2],
  [['migrate', 'backup'], 0, { path: 'migrate backup', options: { target: 'cloud' } }],
  [
    ['migrate', 'backup', 'local', '--keep', '2', '--data-only'],
    0,
    { path: 'migrate backup', options: { target: 'local', keep: 2, dataOnly: true } },
  ],
  [['migrate', 'backup', '--keep', '0'], 2],
  [
    ['restore', 'b.sql', '--target', 'cloud', '--yes'],
    0,
    { path: 'restore', options: { file: 'b.sql', target: 'cloud', yes: true } },
  ],
  [
    ['restore', 'b.sql', '--target', 'local', '--legacy'],
    0,
    { path: 'restore', options: { file: 'b.sql', target: 'local', legacy: true } },
  ],
  [['restore', 'b.sql'], 2],
  [['restore', '--target', 'cloud'], 2],
  [['backups', 'list', '--json'], 0, { path: 'backups list', options: { json: true } }],
  [['backups', 'list', 'extra'], 2],
  [['stack', 'up'], 0, { path: 'stack up', options: {} }],
  [['stack', 'down', '--json'], 0, { path: 'stack down', options: { json: true } }],
  [['stack', 'status'], 0, { path: 'stack status', options: {} }],
  [['demo', '--json'], 0, { path: 'demo', options: { json: true } }],
];

function recorder(): { runs: CommandRun[]; dispatch: Dispatch } {
  const runs: CommandRun[] = [];
  return { runs, dispatch: async (_session, run) => (runs.push(run), 0) };
}

describe('argv → exit code and options (no command runs)', () => {
  const cwd = tempDir('argv');

  it.each(CASES.map((c) => [c[0].join(' ') || '(nothing)', c] as const))(
    '%s',
    async (_name, [argv, code, run]) => {
      const { runs, dispatch } = recorder();
      const r = await runMain(argv, { cwd, dispatch });
      expect(r.code, r.stderr).toBe(code);
      expect(runs).toEqual(run ? [run] : []);
    },
  );

  it('covers every command', () => {
    const covered = new Set(CASES.flatMap(([, , run]) => (run ? [run.path] : [])));
    expect([...covered].sort()).toEqual(
      leafCommands(buildProgram())
        .map((c) => c.path)
        .sort(),
    );
  });
});

describe('flags npm kept for itself', () => {
  const cwd = tempDir('npm');
  const npmRun = (script: string, command: string, config: Record<string, string>) => ({
    npm_lifecycle_event: script,
    npm_lifecycle_script: `node bin/crm-env.js ${command}`,
    ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`npm_config_${k}`, v])),
  });

  it.each([
    [
      ['migrate', 'deploy', 'cloud'],
      npmRun('migrate:deploy', 'migrate deploy', { dry_run: 'true' }),
      'npm run migrate:deploy -- cloud --dry-run --json',
    ],
    [
      ['sync', 'push'],
      npmRun('dev:sync:push', 'sync push', { force: 'true' }),
      'npm run dev:sync:push -- --force --json',
    ],
    [
      ['users', 'create', 'cloud'],
      npmRun('dev:users:create', 'users create', { target: 'true' }),
      'npm run dev:users:create -- --target cloud --json',
    ],
    [
      ['migrate', 'validate'],
      npmRun('migrate:validate', 'migrate validate', { rehearsal: '' }),
      'npm run migrate:validate -- --no-rehearsal --json',
    ],
    [
      ['verify'],
      npmRun('dev:verify', 'verify', { limit: '5', diff: 'true' }),
      'npm run dev:verify -- --diff --limit 5 --json',
    ],
  ] as const)('%j → exit 2, nothing run, the command to type', async (argv, env, expected) => {
    const { runs, dispatch } = recorder();
    const r = await runMain(argv, { cwd, dispatch, env: { ...env, npm_config_json: 'true' } });
    expect(r.code).toBe(2);
    expect(runs).toEqual([]);
    const doc = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; details: string[] };
    expect(doc).toMatchObject({ ok: false, exitCode: 2, details: [expected] });
  });

  it('flags given after `--`, and npmrc settings that are off (`yes=false`), are not refused', async () => {
    const { runs, dispatch } = recorder();
    const env = npmRun('dev:sync:push', 'sync push', { yes: '', json: '' });
    const r = await runMain(['sync', 'push', '--force'], { cwd, dispatch, env });
    expect(r.code, r.stderr).toBe(0);
    expect(runs).toEqual([{ path: 'sync push', options: { yes: true } }]);
    // npx (not one of our scripts) with its own --yes
    const npx = await runMain(['verify'], {
      cwd,
      dispatch,
      env: { npm_lifecycle_event: 'npx', npm_lifecycle_script: 'crm-env', npm_config_yes: 'true' },
    });
    expect(npx.code).toBe(0);
  });
});

describe('--json on failure, from the real commands', () => {
  const required: Readonly<Record<string, readonly string[]>> = {
    'migrate new': ['x'],
    restore: ['b.sql', '--target', 'cloud'],
  };
  const leaves = leafCommands(buildProgram()).map((c) => c.path);

  it.each(leaves)('%s: outside a project → exit 2 with one JSON document', async (cmd) => {
    const cwd = tempDir('noproject');
    const r = await runMain([...cmd.split(' '), ...(required[cmd] ?? []), '--json'], { cwd });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      exitCode: 2,
      command: cmd,
      error: expect.any(String),
    });
  });

  it.each(leaves)('%s: a bad flag → exit 2 with one JSON document', async (cmd) => {
    const r = await runMain([...cmd.split(' '), '--json', '--bogus'], { cwd: tempProject() });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2, error: expect.any(String) });
  });

  it('a subfolder of the project is the project; LOCAL_DB_PORT out of range is a JSON config error', async () => {
    const project = tempProject();
    const r = await runMain(['migrate', 'status', '--json'], {
      cwd: path.join(project, 'supabase', 'migrations'),
      env: { LOCAL_DB_PORT: 'x' },
    });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      exitCode: 2,
      error: expect.stringMatching(/LOCAL_DB_PORT/),
    });
  });
});
