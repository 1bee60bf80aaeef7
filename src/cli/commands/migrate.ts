import { resolveTarget, describeTarget } from '../../config.js';
import { migrateUp } from '../../migration/runner.js';
import { commandContext } from '../context.js';

export async function migrateUpCommand(opts: { target: string; includeAll?: boolean; json?: boolean }): Promise<number> {
  const { config, out } = commandContext({ json: opts.json });
  const target = resolveTarget(config, opts.target);
  out.line(`🗂️  Applying migrations to ${describeTarget(target)}`);
  const result = await migrateUp(
    target.url,
    config.migrationsDir,
    {
      includeAll: opts.includeAll ?? false,
      onFile: (f, i, n) => out.progress(f.fileName, i, n),
    },
    target.label,
  );
  for (const m of result.applied) out.info(`✓ ${m.fileName} (${m.ms.toFixed(0)} ms)`);
  out.line(
    result.applied.length === 0
      ? `✅ Up to date (${result.alreadyApplied} migrations already applied).`
      : `✅ Applied ${result.applied.length} migration(s) in one transaction.`,
  );
  out.json({ target: target.label, applied: result.applied, alreadyApplied: result.alreadyApplied });
  return 0;
}

export async function validateCommand(): Promise<number> {
  throw new Error('not implemented yet');
}

export async function deployCommand(): Promise<number> {
  throw new Error('not implemented yet');
}
