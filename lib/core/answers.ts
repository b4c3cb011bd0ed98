import { TokenError } from 'passport-oauth2';
import { BitbucketAPIError, type BitbucketError, BitbucketEndpointRemovedError } from './errors';
import type { HttpResponse } from './http';
import { isJsonObject, member, optionalString, parseObject } from './json';

/**
 * Reading what Bitbucket answered when it is not a success: every error body the strategy
 * receives becomes an error here, and nowhere else.
 */

const MAX_TEXT_MESSAGE = 200;
const CHANGE_NOTICE = /^(CHANGE-\d{1,9}) - /;
const CHANGELOG = 'https://developer.atlassian.com/cloud/bitbucket/changelog';
/** Bitbucket's scope names and the boxes that grant them on the OAuth consumer. */
const PERMISSIONS: Readonly<Record<string, string>> = { account: 'Account: Read', email: 'Account: Email' };

/**
 * The error for an answer that is not a success: Bitbucket's removal notice (a 410 whose
 * `error.message` starts `CHANGE-N - `) becomes a {@link BitbucketEndpointRemovedError},
 * anything else a {@link BitbucketAPIError}. With `scopeHint`, a 403 says which permission box
 * to tick on the consumer (`detail.required`, or Account: Read by default).
 */
export function apiError(what: string, response: HttpResponse, scopeHint = false): BitbucketError {
  const { status, body } = response;
  const removed = status === 410 ? removalNotice(body) : undefined;
  if (removed) {
    return new BitbucketEndpointRemovedError(
      `${what} failed: Bitbucket removed the endpoint ${safeURL(response.url)} (${removed.change}); see ${removed.announcementURL}`,
      { status, body, ...removed },
    );
  }
  const bitbucketMessage = messageFromBody(body, response.headers['content-type']);
  const hint = scopeHint && status === 403 ? permissionHint(missingScopes(response) ?? ['account']) : undefined;
  return new BitbucketAPIError(
    `${what} failed: Bitbucket answered ${status}${bitbucketMessage ? `: ${bitbucketMessage}` : ''}${hint ? ` (${hint})` : ''}`,
    { status, body, bitbucketMessage },
  );
}

/** The token endpoint's answer: its OAuth error body as passport-oauth2's `TokenError`, or {@link apiError}. */
export function tokenError(what: string, response: HttpResponse): Error {
  const json = parseObject(response.body);
  const code = optionalString(json, 'error');
  if (code) return new TokenError(optionalString(json, 'error_description'), code, optionalString(json, 'error_uri'), response.status);
  return apiError(what, response);
}

/**
 * The scopes a 403 says the token lacks (`error.detail.required`), when it is Bitbucket's
 * missing-scope 403 (`fixtures/error-scope.json`), not a refusal of the resource.
 */
export function missingScopes(response: HttpResponse): unknown[] | undefined {
  const required = member(member(member(parseObject(response.body), 'error'), 'detail'), 'required');
  return Array.isArray(required) ? required : undefined;
}

function permissionHint(required: readonly unknown[]): string {
  const boxes = required.map((scope) => PERMISSIONS[String(scope)] ?? String(scope));
  return `tick the ${boxes.map((b) => `"${b}"`).join(' and ')} permission on the Bitbucket OAuth consumer (Workspace settings → OAuth consumers → Edit)`;
}

/** `CHANGE-N` and its announcement from `{"error": {"message": "CHANGE-N - …", "data": {"announcement_url"}}}`. */
function removalNotice(body: string): { change: string; announcementURL: string } | undefined {
  const error = member(parseObject(body), 'error');
  const change = CHANGE_NOTICE.exec(optionalString(error, 'message') ?? '')?.[1];
  if (!change) return undefined;
  const given = optionalString(member(error, 'data'), 'announcement_url');
  // Only an Atlassian page is quoted; otherwise the changelog entry the id names.
  const announcementURL = given && given.startsWith('https://developer.atlassian.com/') && !/\s/.test(given) ? given : `${CHANGELOG}#${change}`;
  return { change, announcementURL };
}

/**
 * Bitbucket's own words from an error body: `error.message` of Cloud's REST API
 * (`{"type":"error","error":{...}}`), `errors[0].message` of Data Center's
 * (`{"errors":[{...}]}`), `error_description` of the token endpoint, or a short
 * text/plain body (the 429 rate-limit answer). HTML pages are never quoted.
 */
function messageFromBody(body: string, contentType: string | undefined): string | undefined {
  const json = parseObject(body);
  if (json) {
    const error = json['error'];
    const errors = json['errors'];
    const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
    const message = isJsonObject(error) ? optionalString(error, 'message') : optionalString(first, 'message');
    const text = message || optionalString(json, 'error_description') || (typeof error === 'string' ? error : undefined);
    return text ? text.slice(0, MAX_TEXT_MESSAGE) : undefined;
  }
  const text = body.trim();
  return (contentType ?? '').toLowerCase().startsWith('text/plain') && text && text.length <= MAX_TEXT_MESSAGE ? text : undefined;
}

/** A URL for a message: origin and path only, so that no query value (a secret, say) is repeated. */
export function safeURL(url: string): string {
  if (!URL.canParse(url)) return '(an invalid URL)';
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}
