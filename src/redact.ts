/**
 * The one place that hides secrets in anything the tool prints. Every URL shown to the user and every
 * error message that may quote one (driver errors, child-process stderr) goes through here.
 */

const URL_IN_TEXT = /\b(postgres(?:ql)?:\/\/)([^\s:@/]*)(?::([^\s@/]*))?@/gi;
// libpq keyword style (`password=…`) and environment style (`PGPASSWORD=…`); prose such as
// "password: the value of …" is left alone.
const KEY_VALUE_SECRET =
  /\b(password|passwd|PGPASSWORD|apikey|api_key|service_role_key|secret)(\s*=\s*)('[^']*'|"[^"]*"|[^\s'",;&]+)/gi;

/** Shows a connection URL with its password replaced by `***`. Unparseable input is redacted textually. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return redactText(url);
  }
}

/** Redacts every `scheme://user:password@` and `password=...` found in free text. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(URL_IN_TEXT, (_m, scheme: string, user: string, pass: string | undefined) =>
      pass === undefined ? `${scheme}${user}@` : `${scheme}${user}:***@`,
    )
    .replace(KEY_VALUE_SECRET, (_m, key: string, sep: string) => `${key}${sep}***`);
  for (const secret of secrets) {
    // Short or default secrets (the local stack's "postgres") would mangle ordinary words such as
    // "postgresql"; they are not secret anyway. Only distinctive ones are replaced literally.
    if (secret.length >= 8 && !'postgresql'.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}
