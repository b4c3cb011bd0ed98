import { BitbucketResponseError } from '../core/errors';
import { httpURL, isJsonObject, type JsonObject, member, optionalString, parseObject } from '../core/json';
import type { DataCenterProfile } from './types';

/** The user's JSON, from a user request's body, or one entry of a `users?filter=` page. */
export function userJson(body: string): JsonObject {
  const json = parseObject(body);
  if (!json) throw new BitbucketResponseError('Failed to parse the Data Center user: the answer is not a JSON object');
  return json;
}

/** Finds the user named `username` on a `users?filter=` page: an exact `name`, else one that differs only in case. */
export function findUser(body: string, username: string): JsonObject | undefined {
  const page = userJson(body);
  const values = Array.isArray(page['values']) ? (page['values'] as unknown[]).filter(isJsonObject) : [];
  return values.find((u) => u['name'] === username) ?? values.find((u) => optionalString(u, 'name')?.toLowerCase() === username.toLowerCase());
}

/**
 * Builds the profile from Data Center's user JSON (`/rest/api/latest/users/{slug}`). Throws
 * `BitbucketResponseError` when the id or the name is missing.
 */
export function parseDataCenterUser(json: JsonObject, raw: string, baseURL: string, trustEmail: boolean): DataCenterProfile {
  const id = json['id'];
  const name = optionalString(json, 'name');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || !name) {
    throw new BitbucketResponseError('Failed to parse the Data Center user: it has no numeric id or no name');
  }
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
 * `avatarUrl` made absolute. NOTE: Data Center usually answers a relative URL
 * (`/users/jdoe/avatar.png?s=64`); on an instance with a context path it may already start
 * with that path. One that does is relative to the server's root; any other to the base URL,
 * so that the context path is never doubled nor lost. Absolute http(s) ones (Gravatar) are
 * kept; any other scheme (`javascript:`, `data:`) is dropped.
 */
export function absoluteAvatar(avatarUrl: string | undefined, baseURL: string): string | undefined {
  if (!avatarUrl) return undefined;
  if (/^https?:\/\//i.test(avatarUrl)) return httpURL(avatarUrl);
  const base = new URL(`${baseURL}/`);
  const contextPath = base.pathname.replace(/\/$/, '');
  if (avatarUrl.startsWith('/')) {
    return contextPath && (avatarUrl === contextPath || avatarUrl.startsWith(`${contextPath}/`)) ? `${base.origin}${avatarUrl}` : `${base.origin}${contextPath}${avatarUrl}`;
  }
  // Resolved against the base, a `javascript:` or `data:` URL stays what it is: dropped.
  try {
    return httpURL(new URL(avatarUrl, base).href);
  } catch {
    return undefined;
  }
}
