/**
 * `crm-env migrate backup [target]` and `crm-env restore <file> --target <t>`.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describeTarget, resolveTarget } from '../../config.js';
import { UsageError } from '../../errors.js';
import { createBackup } from '../../migration/backup.js';
import { restoreBackup } from '../../migration/restore.js';
import { redactUrl } from '../../redact.js';
import { formatBytes, formatSeconds, shownPath } from '../../format.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { terminalConfirmer } from '../prompt.js';

/** `npm run migrate:backup -- [local|cloud|<url>]`: a full (or data-only) backup, as the spec's backup.sh. */
export async function backupCommand(
  session: CliSession,
  opts: { target: string; dataOnly?: boolean; schemaOnly?: boolean; keep?: number },
): Promise<number> {
  const { config, out } = commandContext(session);
  const t = resolveTarget(config, opts.target);
  const kind = opts.dataOnly ? 'data-only ' : opts.schemaOnly ? 'schema-only ' : '';
  out.line(`📦 Creating ${kind}backup: ${t.label} database`);
  out.info(`Target: ${redactUrl(t.url)}`);
  const r = await createBackup(
    config,
    t,
    { dataOnly: opts.dataOnly ?? false, schemaOnly: opts.schemaOnly ?? false, keep: opts.keep },
    out,
  );
  out.line(`✅ Backup complete: ${path.basename(r.file)} (${formatBytes(r.bytes)})`);
  out.info(`Location: ${shownPath(config.projectDir, path.dirname(r.file))}/`);
  out.json({
    target: t.label,
    file: r.file,
    bytes: r.bytes,
    ms: r.ms,
    dataOnly: opts.dataOnly ?? false,
    schemaOnly: opts.schemaOnly ?? false,
    pgDump: r.pgDump,
  });
  return 0;
}

/** When the backup was taken: the timestamp in its name (UTC), else the file's modification time. */
function backupDate(file: string, mtime: Date): Date {
  const m = /_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})(?:_\d+)?\.sql$/.exec(file);
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : mtime;
}

/**
 * `crm-env restore <file> --target <t>`: shows what it will replace, asks (type `restore`, or
 * `--yes`), then backs the target up and restores in one transaction. Without a terminal and without
 * `--yes` it refuses (exit 2) before connecting to anything.
 */
export async function restoreCommand(
  session: CliSession,
  opts: { file: string; target: string; yes?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const file = path.resolve(session.cwd, opts.file);
  const t = resolveTarget(config, opts.target);
  let size: number;
  let when: Date;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
    when = backupDate(file, st.mtime);
  } catch {
    throw new UsageError(`Backup file not found: ${opts.file}. Nothing was changed.`);
  }
  out.line(`♻️  Restore ${shownPath(config.projectDir, file)}`);
  out.info(`Backup taken: ${when.toISOString().replace('T', ' ').slice(0, 19)} UTC (${formatBytes(size)})`);
  out.info(`Into: ${describeTarget(t)}`);
  out.info(
    'What the backup holds replaces what the target has now (tables and rows); a backup of the target is taken first.',
  );
  const confirm = terminalConfirmer({ yes: opts.yes, json: session.json });
  const r = await restoreBackup(config, file, t, { confirm }, out);
  out.line();
  out.line(`✅ Restored ${r.statements} statements (${r.copiedRows} rows copied) in ${formatSeconds(r.ms)}`);
  if (r.safetyBackup)
    out.info(`Backup of the target before the restore: ${shownPath(config.projectDir, r.safetyBackup.file)}`);
  out.line();
  out.line('Rows per table:');
  const width = Math.max(0, ...r.rowsPerTable.map((x) => x.table.length));
  for (const row of r.rowsPerTable) out.info(`${row.table.padEnd(width)}  ${row.rows}`);
  out.json({
    target: t.label,
    file,
    safetyBackup: r.safetyBackup?.file ?? null,
    statements: r.statements,
    copiedRows: r.copiedRows,
    rowsPerTable: r.rowsPerTable,
    untouchedTables: r.untouchedTables,
    ms: r.ms,
  });
  return 0;
}
