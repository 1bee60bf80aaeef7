/**
 * Post-processes pg_dump's plain-format output (a stream transform, line by line) so that the file
 * restores with `psql -1 -v ON_ERROR_STOP=1 -f` AS THE SCHEMA OWNER (Supabase's `postgres`, not a
 * superuser), into the database it came from:
 *
 * - `\restrict` / `\unrestrict` lines (pg_dump ≥ 17.6/16.10/15.14) are dropped: older psql clients
 *   and other runners reject unknown meta-commands, and the file's only reader is a restore we control.
 * - Schemas are kept, never dropped or re-created: `DROP SCHEMA` (from --clean) is removed and
 *   `CREATE SCHEMA x` becomes `CREATE SCHEMA IF NOT EXISTS x` (removed for `public`, which always
 *   exists). Dropping `public` needs its owner, and would also drop its default privileges
 *   (Supabase's `ALTER DEFAULT PRIVILEGES … IN SCHEMA public GRANT … TO anon, authenticated`) and its
 *   grants, which nobody would put back.
 * - Entries about the schema or database itself are commented out: COMMENT ON SCHEMA / ACL on SCHEMA
 *   (the kept schema keeps its own), DEFAULT ACL (`FOR ROLE supabase_admin …` needs that role),
 *   EXTENSION and COMMENT ON EXTENSION (Supabase-managed), and SET/RESET SESSION AUTHORIZATION
 *   around grants (superuser only; the restoring owner grants instead).
 *
 * pg_dump precedes every object's statements with a header `-- Name: …; Type: …; Schema: …; Owner: …`,
 * which is what this filter keys on; the `--clean` DROPs come before the first header. COPY data is
 * passed through untouched (a data line may look like anything).
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

const HEADER = /^-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/;
const SKIPPED_TYPES = new Set(['EXTENSION', 'DEFAULT ACL']);

export interface DumpFilterOptions {
  /** SQL inserted before the first table's data (the data-only backup's TRUNCATE). */
  readonly beforeData?: string;
}

/** Why an entry is commented out, or null to keep it. */
function skipReason(name: string, type: string): string | null {
  if (SKIPPED_TYPES.has(type)) return `${type.toLowerCase()} is managed outside the backed-up schemas`;
  if ((type === 'COMMENT' || type === 'ACL') && /^(SCHEMA|EXTENSION) /.test(name)) {
    return 'the schema is kept as it is, with its own comment and privileges';
  }
  return null;
}

/** The line-level rules, separate from the stream plumbing so that tests can call them directly. */
export class DumpFilter {
  private inCopy = false;
  private seenHeader = false;
  private entry: { name: string; type: string; skip: string | null } | null = null;
  private beforeData: string | undefined;

  constructor(options: DumpFilterOptions = {}) {
    this.beforeData = options.beforeData;
  }

  /** The output for one input line (without `\n`): the line itself, a replacement, or nothing. */
  line(text: string): string | null {
    if (this.inCopy) {
      if (text === '\\.') this.inCopy = false;
      return text;
    }
    if (/^\\(un)?restrict\b/.test(text)) return null;
    const header = HEADER.exec(text);
    if (header) {
      this.seenHeader = true;
      const [, name, type] = header as unknown as [string, string, string];
      this.entry = { name, type, skip: skipReason(name, type) };
      if (type === 'TABLE DATA' && this.beforeData !== undefined) {
        const sql = this.beforeData;
        this.beforeData = undefined;
        return `-- crm-env: empty the tables before loading them (a data-only backup replaces the data)\n${sql}\n\n${text}`;
      }
      return text;
    }
    if (!this.seenHeader) {
      // The --clean section: every DROP of the dump, before the first object header.
      return /^DROP (SCHEMA|EXTENSION) /.test(text) ? `-- crm-env kept: ${text}` : text;
    }
    const entry = this.entry;
    if (entry === null || text === '' || text === '--') return text;
    if (entry.skip !== null) return `-- crm-env skipped (${entry.skip}): ${text}`;
    if (entry.type === 'SCHEMA') {
      const m = /^CREATE SCHEMA (.+);$/.exec(text);
      if (m) return m[1] === 'public' ? `-- crm-env kept: ${text}` : `CREATE SCHEMA IF NOT EXISTS ${m[1]};`;
    }
    if (entry.type === 'ACL' && /^(RE)?SET SESSION AUTHORIZATION\b/.test(text)) return `-- crm-env skipped: ${text}`;
    if (entry.type === 'TABLE DATA' && /^COPY .* FROM stdin;$/.test(text)) this.inCopy = true;
    return text;
  }
}

/** A Transform applying {@link DumpFilter} to a byte stream of pg_dump output. */
export function dumpFilterStream(options: DumpFilterOptions = {}): Transform {
  const filter = new DumpFilter(options);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const emit = (lines: string[], push: (s: string) => void): void => {
    const out: string[] = [];
    for (const l of lines) {
      const r = filter.line(l);
      if (r !== null) out.push(r, '\n');
    }
    if (out.length > 0) push(out.join(''));
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      emit(lines, (s) => this.push(s));
      cb();
    },
    flush(cb: TransformCallback) {
      const last = rest + decoder.end();
      if (last !== '') {
        const r = filter.line(last);
        if (r !== null) this.push(r);
      }
      cb();
    },
  });
}
