import { BitbucketResponseError } from './errors';
import { isJsonObject, optionalString, parseJson } from './json';
import type { BitbucketEmail } from './types';

/** One entry of `/2.0/user/emails` as Bitbucket sends it, checked. */
export interface RawEmail {
  email: string;
  isPrimary: boolean;
  isConfirmed: boolean;
}

export interface EmailsPage {
  values: RawEmail[];
  /** The `next` link, when Bitbucket says there is another page. */
  next: string | undefined;
}

/** Parses one page of `GET /2.0/user/emails`. Throws `BitbucketResponseError` on any other shape. */
export function parseEmailsPage(body: string): EmailsPage {
  const parsed = parseJson(body);
  if (!parsed.ok) {
    throw new BitbucketResponseError('Failed to parse user emails: Bitbucket did not answer JSON');
  }
  return emailsPageFromJson(parsed.value);
}

export function emailsPageFromJson(json: unknown): EmailsPage {
  if (!isJsonObject(json) || !Array.isArray(json['values'])) {
    throw new BitbucketResponseError('Failed to parse user emails: the answer has no values list');
  }
  const values: RawEmail[] = [];
  for (const entry of json['values'] as unknown[]) {
    const email = isJsonObject(entry) ? optionalString(entry, 'email') : undefined;
    if (!isJsonObject(entry) || !email) {
      throw new BitbucketResponseError('Failed to parse user emails: an entry has no email address');
    }
    values.push({
      email,
      isPrimary: entry['is_primary'] === true,
      isConfirmed: entry['is_confirmed'] === true,
    });
  }
  const next = json['next'];
  if (next !== undefined && next !== null && typeof next !== 'string') {
    throw new BitbucketResponseError('Failed to parse user emails: the next link is not a string');
  }
  return { values, next: next || undefined };
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
