/**
 * `crm-env migrate backup [target]`, `crm-env restore <file> --target <t>` and `crm-env backups list`.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describeTarget, resolveTarget } from '../../config.js';
import { backupNameDate } from '../../db/backup-file.js';
import { inspectBackupFile, manifestRows } from '../../db/backup-manifest.js';
import { UsageError } from '../../errors.js';
import { createBackup } from '../../migration/backup.js';
import { listBackupFiles, shownBackupDir } from '../../migration/backup-list.js';
import { restoreBackup } from '../../migration/restore.js';
import { redactUrl } from '../../redact.js';
import { formatBytes, formatSeconds, shownPath } from '../../format.js';
import type { CliSession } from '../context.js';
import { commandContext } from '../context.js';
import { terminalConfirmer } from '../prompt.js';
import { withInterrupts } from '../interrupt.js';

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
  out.line(`✅ Backup complete: ${path.basename(r.file)} (${formatBytes(r.bytes)}, ${r.rows} rows)`);
  out.info(`Location: ${shownPath(config.projectDir, path.dirname(r.file))}/`);
  out.json({
    target: t.label,
    kind: r.kind,
    file: r.file,
    bytes: r.bytes,
    rows: r.rows,
    ms: r.ms,
    dataOnly: opts.dataOnly ?? false,
    schemaOnly: opts.schemaOnly ?? false,
    pgDump: r.pgDump,
    pruned: r.pruned,
  });
  return 0;
}

/**
 * `crm-env restore <file> --target <t>`: shows what it will replace, asks (type `restore`, or
 * `--yes`), then backs the target up and restores in one transaction. Without a terminal and without
 * `--yes` it refuses (exit 2) before connecting to anything.
 */
export async function restoreCommand(
  session: CliSession,
  opts: { file: string; target: string; yes?: boolean; legacy?: boolean },
): Promise<number> {
  const { config, out } = commandContext(session);
  const file = path.resolve(session.cwd, opts.file);
  const t = resolveTarget(config, opts.target);
  let size: number;
  let mtime: Date;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
    mtime = st.mtime;
  } catch {
    throw new UsageError(`Backup file not found: ${opts.file}. Nothing was changed.`);
  }
  const found = await inspectBackupFile(file);
  const taken =
    found.manifest?.createdAt ?? found.header?.createdAt ?? (backupNameDate(file) ?? mtime).toISOString();
  const what = found.manifest
    ? `${found.manifest.kind} backup of ${found.manifest.target}, ${manifestRows(found.manifest)} rows, `
    : '';
  out.line(`♻️  Restore ${shownPath(config.projectDir, file)}`);
  out.info(`Backup taken: ${taken.replace('T', ' ').slice(0, 19)} UTC (${what}${formatBytes(size)})`);
  out.info(`Into: ${describeTarget(t)}`);
  out.info(
    'What the backup holds replaces what the target has now (tables and rows); a backup of the target is taken first.',
  );
  const confirm = terminalConfirmer({ yes: opts.yes, json: session.json });
  const r = await withInterrupts(out, (signal) =>
    restoreBackup(config, file, t, { confirm, legacy: opts.legacy, signal }, out),
  );
  out.line();
  out.line(
    `✅ Restored ${r.statements} statements (${r.copiedRows} rows copied) in ${formatSeconds(r.ms)}${r.verified ? ', content verified against the manifest' : ''}`,
  );
  if (r.safetyBackup)
    out.info(`Backup of the target before the restore: ${shownPath(config.projectDir, r.safetyBackup.file)}`);
  if (r.undoCommand) out.info(`To undo this restore: ${r.undoCommand}`);
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
    verified: r.verified,
    undoCommand: r.undoCommand,
    ms: r.ms,
  });
  return 0;
}

/** `crm-env backups list`: kind, target, time, size, rows and completeness of every backup file. */
export async function backupsListCommand(session: CliSession): Promise<number> {
  const { config, out } = commandContext(session);
  const list = await listBackupFiles(config);
  out.json({
    dir: config.backupDir,
    backups: list.map((b) => ({ ...b, file: shownPath(config.projectDir, b.file) })),
  });
  out.line(`📚 Backups in ${shownBackupDir(config)}/ (newest first)`);
  if (list.length === 0) {
    out.info('(none)');
    return 0;
  }
  const rows = list.map((b) => [
    b.kind ?? '?',
    b.target ?? '?',
    b.takenAt.replace('T', ' ').slice(0, 19),
    formatBytes(b.bytes),
    b.rows === null ? '-' : String(b.rows),
    b.complete ? 'yes' : b.status === 'unfinished' ? 'unfinished' : b.status === 'legacy' ? 'unknown' : 'NO',
    shownPath(config.projectDir, b.file),
  ]);
  const head = ['KIND', 'TARGET', 'TAKEN (UTC)', 'SIZE', 'ROWS', 'COMPLETE', 'FILE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows])
    out.info(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  const bad = list.filter((b) => !b.complete && b.status !== 'unfinished');
  for (const b of bad) out.warn(`${shownPath(config.projectDir, b.file)}: ${b.problem}.`);
  return 0;
}
