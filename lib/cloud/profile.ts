import { BitbucketResponseError } from '../core/errors';
import { httpURL, isJsonObject, linkHref, optionalString, parseJson } from '../core/json';
import type { Profile } from './types';

/**
 * Parses the body of `GET /2.0/user` into a Passport profile (with `emails: []`; the
 * strategy fills them in). Throws `BitbucketResponseError` when the body is not a JSON
 * object or has no `uuid`.
 */
export function parseProfile(body: string): Profile {
  const parsed = parseJson(body);
  if (!parsed.ok) throw new BitbucketResponseError('Failed to parse user profile: Bitbucket did not answer JSON');
  const json = parsed.value;
  if (!isJsonObject(json)) throw new BitbucketResponseError('Failed to parse user profile: the answer is not a JSON object');
  const uuid = optionalString(json, 'uuid');
  if (!uuid) throw new BitbucketResponseError('Failed to parse user profile: the user has no uuid');
  const username = optionalString(json, 'username') || undefined;
  const nickname = optionalString(json, 'nickname') || undefined;
  // Links and the avatar only as absolute http(s) URLs: never `javascript:` or `data:`.
  const avatar = httpURL(linkHref(json, 'avatar'));
  const profile: Profile = {
    provider: 'bitbucket',
    id: uuid,
    accountId: optionalString(json, 'account_id') || undefined,
    nickname,
    displayName: optionalString(json, 'display_name') || nickname || username || '',
    profileUrl: httpURL(linkHref(json, 'html')),
    photos: avatar ? [{ value: avatar }] : [],
    emails: [],
    _raw: body,
    _json: json,
  };
  // NOTE: `username` is deprecated (2019 privacy changes) but still returned for the
  // signed-in user; it is set only when present.
  if (username) profile.username = username;
  return profile;
}
