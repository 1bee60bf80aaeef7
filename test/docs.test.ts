import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentedCommands, renderUsageBlocks } from '../src/cli/docs.js';
import { buildProgram, leafCommands, NPM_SCRIPTS } from '../src/cli/program.js';

const scriptsDoc = readFileSync('docs/scripts.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

describe('documentation matches the code', () => {
  it('docs/scripts.md usage blocks are exactly the --help output (run `npm run docs` to refresh)', () => {
    expect(renderUsageBlocks(scriptsDoc)).toBe(scriptsDoc);
  });

  it('every command is documented with its usage', () => {
    const documented = new Set(documentedCommands(scriptsDoc));
    for (const { path } of leafCommands(buildProgram()))
      expect(documented, `crm-env ${path}`).toContain(path);
  });

  it('every npm script the spec names exists, and those that run crm-env name a real command', () => {
    const spec = [
      'dev:sync:push',
      'dev:users:create',
      'dev:reset',
      'dev:verify',
      'migrate:backup',
      'migrate:deploy',
      'migrate:validate',
      'validate:pre-migration',
      'migration:validate',
      'migration:backup',
      'supabase:deploy',
      'supabase:local:start',
      'supabase:local:stop',
      'supabase:local:status',
    ];
    for (const s of spec) expect(pkg.scripts, s).toHaveProperty(s);
    const commands = new Set(leafCommands(buildProgram()).map((c) => c.path));
    for (const [name, script] of Object.entries(pkg.scripts)) {
      const m = /^node bin\/crm-env\.js (.+)$/.exec(script);
      if (!m) continue;
      const path = m[1]!
        .split(' ')
        .filter((w) => !w.startsWith('-'))
        .join(' ');
      expect(commands, `npm run ${name}`).toContain(path);
    }
    for (const [path, script] of Object.entries(NPM_SCRIPTS))
      expect(pkg.scripts[script], path).toBe(`node bin/crm-env.js ${path}`);
  });

  it('every `npm run X` and `crm-env X` mentioned in README and docs exists', () => {
    const files = [
      'README.md',
      'docs/scripts.md',
      'docs/supabase/supabase_workflow_overview.md',
      'docs/supabase/connecting.md',
      'docs/supabase/storage.md',
    ];
    const commands = leafCommands(buildProgram()).map((c) => c.path);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/npm run ([a-z][a-z0-9:-]*)/g))
        expect(pkg.scripts, `${f}: npm run ${m[1]}`).toHaveProperty(m[1]!);
      for (const m of text.matchAll(/(?:npx |`|\$ )crm-env ([a-z]+(?: [a-z]+)?)/g)) {
        const words = m[1]!;
        const ok = commands.some(
          (c) =>
            c === words ||
            c.startsWith(`${words} `) ||
            words.startsWith(`${c} `) ||
            c === words.split(' ')[0],
        );
        expect(ok, `${f}: crm-env ${words}`).toBe(true);
      }
    }
  });

  it('README quick start is exactly the two commands', () => {
    const readme = readFileSync('README.md', 'utf8');
    const quick = /## Quick start\n+```bash\n([\s\S]*?)```/.exec(readme)?.[1]?.trim();
    expect(quick).toBe('npm install && npm run demo\nnpm test');
  });
});
