/**
 * Child processes for the bench: run to completion, capture output, and remember every running child
 * so that Ctrl-C or an error can stop them all.
 */
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { closeSync, openSync } from 'node:fs';

const running = new Set();

/** Variables that would point a child at another database or change how libpq / crm-env behave. */
const STRIP =
  /^(PG|LOCAL_DATABASE_URL$|DATABASE_URL|BACKUP_DIR$|STACK_DIR$|SEED|TEST_|OPPORTUNITY_|LOCAL_DB_PORT$|SANDBOX_DB_PORT$|SYNC_)/;

/** The parent's environment without anything that could redirect a child, plus `extra`. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!STRIP.test(k) && v !== undefined) env[k] = v;
  return { ...env, LANG: 'C.UTF-8', ...extra };
}

/**
 * Runs `cmd args` and resolves `{ stdout, stderr }` when it exits with 0; rejects otherwise.
 * `stdin`: undefined (nothing), a string (written to the child), or `{ file }` (the file as stdin).
 */
export function run(cmd, args, { env, cwd, stdin } = {}) {
  return new Promise((resolve, reject) => {
    let fd = null;
    let stdinOpt = 'ignore';
    if (typeof stdin === 'string') stdinOpt = 'pipe';
    else if (stdin && stdin.file) {
      fd = openSync(stdin.file, 'r');
      stdinOpt = fd;
    }
    const child = spawn(cmd, args, { env, cwd, stdio: [stdinOpt, 'pipe', 'pipe'] });
    if (fd !== null) closeSync(fd);
    running.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    if (typeof stdin === 'string') child.stdin.end(stdin);
    child.once('error', (e) => {
      running.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      running.delete(child);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else {
        const e = new Error(
          `${cmd.split('/').pop()} ${args[0] ?? ''}… exited with ${signal ?? code}: ${(stderr || stdout).trim().split('\n').slice(-6).join('\n')}`,
        );
        e.stdout = stdout;
        e.stderr = stderr;
        reject(e);
      }
    });
  });
}

/** Stops every child still running (cleanup on Ctrl-C or error). */
export function killAll(signal = 'SIGTERM') {
  for (const child of running) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
