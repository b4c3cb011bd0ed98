import { jsonBody, parseFailure } from '../core/errors';
import { httpURL, isJsonObject, type JsonObject, member, optionalString } from '../core/json';
import type { DataCenterProfile } from './types';

/** The user's JSON, from a user request's body, or one entry of a `users?filter=` page. */
export function userJson(body: string): JsonObject {
  return jsonBody(body, 'the Data Center user');
}

/** Finds the user named `username` on a `users?filter=` page: an exact `name`, else one that differs only in case. */
export function findUser(body: string, username: string): JsonObject | undefined {
  const values = member(userJson(body), 'values');
  const users = Array.isArray(values) ? values.filter(isJsonObject) : [];
  return users.find((u) => u['name'] === username) ?? users.find((u) => sameName(u, username));
}

/**
 * Whether the user JSON is of the user named `username`. NOTE: Bitbucket's usernames are unique regardless of case, and whoami
 * may not spell one as the directory does, so the names are compared ignoring case.
 */
export function sameName(json: JsonObject, username: string): boolean {
  return optionalString(json, 'name')?.toLowerCase() === username.toLowerCase();
}

/** Builds the profile from Data Center's user JSON (`/rest/api/latest/users/{slug}`); a `BitbucketResponseError` without the id or name. */
export function parseDataCenterUser(json: JsonObject, raw: string, baseURL: string, trustEmail: boolean): DataCenterProfile {
  const id = json['id'];
  const name = optionalString(json, 'name');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || !name) throw parseFailure('the Data Center user', 'it has no numeric id or no name');
  const email = optionalString(json, 'emailAddress');
  const avatar = absoluteAvatar(optionalString(json, 'avatarUrl'), baseURL);
  // Data Center nests its links as `links.self[0].href`.
  const self = member(member(json, 'links'), 'self');
  return {
    provider: 'bitbucket-datacenter',
    id: String(id),
    username: name,
    slug: optionalString(json, 'slug') || name,
    displayName: optionalString(json, 'displayName') || name,
    profileUrl: httpURL(optionalString(Array.isArray(self) ? self[0] : undefined, 'href')),
    photos: avatar ? [{ value: avatar }] : [],
    emails: email ? [{ value: email, primary: true, verified: trustEmail }] : [],
    _raw: raw,
    _json: json,
  };
}

/**
 * `avatarUrl` made absolute. NOTE: Data Center usually answers a relative URL (`/users/jdoe/avatar.png?s=64`), which on an
 * instance with a context path may already start with it: never doubled nor lost. Absolute http(s) ones (Gravatar) are kept;
 * any other scheme (`javascript:`, `data:`) is dropped.
 */
export function absoluteAvatar(avatarUrl: string | undefined, baseURL: string): string | undefined {
  if (!avatarUrl) return undefined;
  if (/^https?:\/\//i.test(avatarUrl)) return httpURL(avatarUrl);
  const { origin, pathname } = new URL(baseURL);
  const contextPath = pathname.replace(/\/$/, '');
  if (avatarUrl.startsWith('/')) {
    return avatarUrl === contextPath || avatarUrl.startsWith(`${contextPath}/`) ? `${origin}${avatarUrl}` : `${origin}${contextPath}${avatarUrl}`;
  }
  return URL.canParse(avatarUrl, `${baseURL}/`) ? httpURL(new URL(avatarUrl, `${baseURL}/`).href) : undefined;
}
