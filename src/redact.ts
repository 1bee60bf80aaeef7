/**
 * The one place that hides secrets in anything the tool prints. Every URL shown to the user and every
 * error message that may quote one (driver errors, child-process stderr) goes through here.
 */
import { displayConnString, parseConnString } from './db/conn-string.js';

/** A URL in free text: the scheme and everything up to the next blank or quote. */
const URL_IN_TEXT = /\bpostgres(?:ql)?:\/\/[^\s'"<>]*/gi;
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

/** Masks the password of one URL found in text, by shape only (it may not parse). */
function maskUrlToken(token: string): string {
  const split = token.indexOf('//') + 2;
  const [scheme, rest] = [token.slice(0, split), token.slice(split)];
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    return colon < 0 ? token : `${scheme}${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
  }
  // No @: a `user:secret` cut short (e.g. by a # in a .env file) looks like host:port with a bad port.
  const end = rest.search(/[/?]|$/);
  const authority = rest.slice(0, end);
  const colon = authority.indexOf(':', authority.startsWith('[') ? authority.indexOf(']') + 1 : 0);
  if (colon >= 0 && !/^\d*$/.test(authority.slice(colon + 1)))
    return `${scheme}${authority.slice(0, colon)}:***${rest.slice(end)}`;
  return token;
}

/** Redacts every URL password, `password=...` and each of `secrets` found in free text. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(URL_IN_TEXT, maskUrlToken)
    .replace(KEY_VALUE_SECRET, (_m, key: string, sep: string) => `${key}${sep}***`);
  for (const secret of secrets) {
    // Short or default secrets (the local stack's "postgres") would mangle ordinary words such as
    // "postgresql"; they are not secret anyway. Only distinctive ones are replaced literally.
    if (secret.length >= 8 && !'postgresql'.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}
