import { isJsonObject, optionalString } from '../core/json';
import { type Page, parsePage } from './pages';
import type { BitbucketEmail } from './types';

/** One entry of `/2.0/user/emails` as Bitbucket sends it, checked. */
export interface RawEmail {
  email: string;
  isPrimary: boolean;
  isConfirmed: boolean;
}

/** Parses one page of `GET /2.0/user/emails`. Throws `BitbucketResponseError` on any other shape. */
export function parseEmailsPage(body: string): Page<RawEmail> {
  return parsePage(body, 'user emails', parseEmail, 'an entry has no email address');
}

function parseEmail(entry: unknown): RawEmail | undefined {
  const email = isJsonObject(entry) ? optionalString(entry, 'email') : undefined;
  if (!isJsonObject(entry) || !email) return undefined;
  return { email, isPrimary: entry['is_primary'] === true, isConfirmed: entry['is_confirmed'] === true };
}

/**
 * Orders addresses for the profile: the confirmed primary first, then the other confirmed
 * addresses in Bitbucket's order. Unconfirmed ones follow only when asked for, marked
 * `verified: false`, with an unconfirmed primary after the other unconfirmed ones: it is
 * never offered ahead of an address someone has proven to own. Duplicates (compared
 * case-insensitively) are dropped.
 */
export function orderEmails(raw: readonly RawEmail[], includeUnverified: boolean): BitbucketEmail[] {
  const confirmed = raw.filter((e) => e.isConfirmed);
  const ordered = [...confirmed.filter((e) => e.isPrimary), ...confirmed.filter((e) => !e.isPrimary)];
  if (includeUnverified) {
    const unconfirmed = raw.filter((e) => !e.isConfirmed);
    ordered.push(...unconfirmed.filter((e) => !e.isPrimary), ...unconfirmed.filter((e) => e.isPrimary));
  }
  const seen = new Set<string>();
  const emails: BitbucketEmail[] = [];
  for (const entry of ordered) {
    const key = entry.email.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    emails.push({ value: entry.email, primary: entry.isPrimary, verified: entry.isConfirmed });
  }
  return emails;
}
