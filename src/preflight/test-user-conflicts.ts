/**
 * Test users can never be real people: before a command writes test users with given ids, no account
 * outside the test domain may hold one of those ids (as its user id, or as its email identity), or the
 * write would overwrite it.
 */
import type { Client } from '../db/connect.js';
import { testUserPredicate } from '../dev/test-users-sql.js';

export interface TestUserConflict {
  readonly id: string;
  /** The email of the account that holds the id (null when it has none). */
  readonly email: string | null;
}

/**
 * Accounts outside `domain` holding one of `ids` on the database of `client` (read-only). With
 * `identities`, also email identities whose provider id is a test user's id but that belong to another
 * account (an upsert of the test user's identity would move them; a plain insert just fails).
 */
export async function testUserConflicts(
  client: Client,
  ids: readonly string[],
  domain: string,
  identities: boolean,
): Promise<TestUserConflict[]> {
  if (ids.length === 0) return [];
  const { rows: ok } = await client.query<{ ok: boolean }>(AUTH_TABLES_EXIST_SQL);
  if (!ok[0]!.ok) return [];
  return testUserConflictsIn(client, ids, domain, identities);
}

/** Whether the auth tables exist (column `ok`): one statement, to send with others. */
export const AUTH_TABLES_EXIST_SQL = `select to_regclass('auth.users') is not null and to_regclass('auth.identities') is not null as ok`;

/** {@link testUserConflicts} once {@link AUTH_TABLES_EXIST_SQL} said the auth tables exist. */
export async function testUserConflictsIn(
  client: Client,
  ids: readonly string[],
  domain: string,
  identities: boolean,
): Promise<TestUserConflict[]> {
  if (ids.length === 0) return [];
  const pred = testUserPredicate(domain, 'u.email');
  const byIdentity = `union
     select i.provider_id as id, u.email::text from auth.identities i join auth.users u on u.id = i.user_id
      where i.provider = 'email' and i.provider_id = any($1::text[]) and i.user_id::text <> i.provider_id`;
  const { rows } = await client.query<TestUserConflict>(
    `select u.id::text as id, u.email::text as email from auth.users u
      where u.id = any($1::text[]::uuid[]) and not coalesce(${pred}, false)
     ${identities ? byIdentity : ''}
     order by 1`,
    [ids],
  );
  return rows;
}

/** One sentence for the first conflict (the rest go to details). */
export function conflictSentence(c: TestUserConflict, label: string, domain: string): string {
  return `On the ${label} database the account ${c.email ?? '(no email)'} is not a @${domain} test user but holds the test user id ${c.id}; writing the test users would overwrite it, so nothing was changed (delete or re-id that account, or choose other TEST_*_EMAIL addresses).`;
}
