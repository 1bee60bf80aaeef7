/**
 * The one place that hides secrets in anything the tool prints. Every URL shown to the user and every
 * error message that may quote one (driver errors, child-process stderr) goes through here.
 */
import { displayConnString, parseConnString } from './db/conn-string.js';

/** Where a URL starts in free text. */
const URL_START = /\bpostgres(?:ql)?:\/\//gi;
// libpq keyword style (`password=…`, also as a URL parameter) and environment style (`PGPASSWORD=…`);
// prose such as "password: the value of …" is left alone.
const KEY_VALUE_SECRET =
  /\b(password|passwd|PGPASSWORD|apikey|api_key|service_role_key|secret)(\s*=\s*)('[^']*'|"[^"]*"|[^\s'",;&]+)/gi;

/**
 * Shows a connection URL as `postgresql://user:***@host:port/database`, whatever its shape
 * (`?password=`, percent-encoding, a raw `@` or space in the password). A URL that does not parse is
 * not shown at all.
 */
export function redactUrl(url: string): string {
  try {
    return displayConnString(parseConnString(url));
  } catch {
    return 'postgresql://(not shown: not a valid URL)';
  }
}

/** The `user:` part and whether what follows looks like a password rather than a port. */
function userBeforeSecret(rest: string): string | null {
  const authority = rest.slice(0, rest.search(/[/?]|$/));
  const colon = authority.indexOf(':', authority.startsWith('[') ? authority.indexOf(']') + 1 : 0);
  return colon >= 0 && !/^\d*$/.test(authority.slice(colon + 1)) ? authority.slice(0, colon) : null;
}

/** Masks the password of one URL found in text, by shape only (it may not parse). */
function maskUrlToken(token: string): string {
  const split = token.indexOf('//') + 2;
  const [scheme, rest] = [token.slice(0, split), token.slice(split)];
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const colon = rest.slice(0, at).indexOf(':');
    return colon < 0 ? token : `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  // No @: a `user:secret` cut short (e.g. by a # in a .env file) looks like host:port with a bad port;
  // the secret may go on past a / or ?, so nothing after it is kept.
  const user = userBeforeSecret(rest);
  return user === null ? token : `${scheme}${user}:***`;
}

/**
 * Masks each URL of one line. A URL's text ends at a blank, unless its password holds one: when the
 * first word has `user:` and no @, the URL runs to the last @ of the line.
 */
function maskUrlsInLine(line: string): string {
  let out = '';
  let done = 0;
  for (const m of line.matchAll(URL_START)) {
    if (m.index < done) continue;
    const wordEnd = (from: number): number => {
      const i = line.slice(from).search(/[\s'"<>]/);
      return i < 0 ? line.length : from + i;
    };
    let end = wordEnd(m.index);
    const rest = line.slice(m.index + m[0].length, end);
    const lastAt = line.lastIndexOf('@');
    if (!rest.includes('@') && userBeforeSecret(rest) !== null && lastAt > end) end = wordEnd(lastAt);
    out += line.slice(done, m.index) + maskUrlToken(line.slice(m.index, end));
    done = end;
  }
  return out + line.slice(done);
}

/** Redacts every URL password, `password=...` and each of `secrets` found in free text. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so that no spelling of a password is left half-replaced by a shorter one.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    // Short or default secrets (the local stack's "postgres") would mangle ordinary words such as
    // "postgresql"; they are not secret anyway. Only distinctive ones are replaced literally.
    if (secret.length >= 8 && !'postgresql'.includes(secret)) out = out.split(secret).join('***');
  }
  return out
    .split('\n')
    .map(maskUrlsInLine)
    .join('\n')
    .replace(KEY_VALUE_SECRET, (_m, key: string, sep: string) => `${key}${sep}***`);
}
