/**
 * Which auth users are test users: those whose email ends in `@<TEST_EMAIL_DOMAIN>`. Sync carries
 * them, reset deletes them, and nothing else in auth.users is ever touched.
 */
import { quoteLiteral } from '../db/sql.js';

/**
 * SQL predicate on `email` for test users. COPY … TO cannot take parameters, so the domain goes in as
 * a quoted literal; config validation already limits it to letters, digits, dots and dashes.
 */
export function testUserPredicate(domain: string, column = 'email'): string {
  const suffix = `@${domain.toLowerCase()}`;
  return `right(lower(${column}), ${suffix.length}) = ${quoteLiteral(suffix)}`;
}
