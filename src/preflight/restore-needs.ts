/**
 * What a restore needs from the target's role, read from the backup file itself: a full backup drops
 * and re-creates the public tables (ownership); a data-only or sync backup empties and reloads them
 * (TRUNCATE and INSERT), and a sync backup also replaces the test users in auth.
 */
import { open } from 'node:fs/promises';
import type { DatabaseTarget } from '../config.js';
import type { Capability } from './capabilities.js';
import type { PreflightPlan } from './preflight.js';

/** pg_dump writes its DROP/CREATE statements before any data, so the head of the file tells. */
const HEAD_BYTES = 256 * 1024;

async function readHead(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The capabilities restoring `file` needs. */
export async function restoreNeeds(file: string): Promise<Capability[]> {
  const head = await readHead(file);
  const needs: Capability[] = ['bypass-rls'];
  needs.push(
    /^\s*(DROP|CREATE|ALTER)\s+(TABLE|SCHEMA|VIEW|FUNCTION|SEQUENCE)\b/im.test(head)
      ? 'own-public'
      : 'replace-data',
  );
  if (/^\s*(COPY|DELETE\s+FROM|INSERT\s+INTO)\s+("?auth"?\.)/im.test(head)) needs.push('write-auth');
  return needs;
}

/** The preflight of `crm-env restore <file> --target <t>`: the target, and its safety backup. */
export async function restorePreflightPlan(
  file: string,
  target: DatabaseTarget,
  backupFirst: boolean,
  signal: AbortSignal | undefined,
): Promise<PreflightPlan> {
  return {
    command: 'restore',
    signal,
    databases: [{ target, needs: await restoreNeeds(file), backups: backupFirst ? ['full'] : [] }],
  };
}
