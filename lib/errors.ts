import { InternalOAuthError } from 'passport-oauth2';
import type { HttpResponse } from './http';
import { isJsonObject, optionalString, parseJson } from './json';

/** Stable codes carried by every {@link BitbucketError}. */
export type BitbucketErrorCode =
  | 'BITBUCKET_API_ERROR'
  | 'BITBUCKET_ENDPOINT_REMOVED'
  | 'BITBUCKET_INVALID_RESPONSE'
  | 'BITBUCKET_RESPONSE_TOO_LARGE'
  | 'BITBUCKET_UNSAFE_PAGINATION'
  | 'BITBUCKET_TIMEOUT'
  | 'BITBUCKET_NETWORK_ERROR';

/** What Bitbucket answered, in the shape passport-oauth2's `InternalOAuthError` keeps. */
export interface BitbucketOAuthErrorData {
  statusCode: number;
  data: string;
}

/**
 * Base class of every error this package creates. It is an `InternalOAuthError`, so code that
 * already handles passport-oauth2's errors keeps working; `code` tells the cases apart.
 */
export class BitbucketError extends InternalOAuthError {
  readonly code: BitbucketErrorCode;
  declare readonly cause?: unknown;

  constructor(
    message: string,
    code: BitbucketErrorCode,
    oauthError?: BitbucketOAuthErrorData,
    options?: { cause?: unknown },
  ) {
    super(message, oauthError);
    this.name = new.target.name;
    this.code = code;
    if (options && 'cause' in options) {
      Object.defineProperty(this, 'cause', {
        value: options.cause,
        configurable: true,
        enumerable: false,
        writable: true,
      });
    }
  }

  /** Name and message only: the response body stays in `oauthError`, out of log lines. */
  override toString(): string {
    return `${this.name}: ${this.message}`;
  }
}

/**
 * Bitbucket answered with an error status. `message` carries Bitbucket's own
 * `error.message` when it sent one; `oauthError` keeps `{ statusCode, data }`.
 */
export class BitbucketAPIError extends BitbucketError {
  /** The HTTP status Bitbucket answered with. */
  readonly status: number;
  /** Bitbucket's own message (`error.message` or a short text body), when there was one. */
  readonly bitbucketMessage: string | undefined;
  declare oauthError: BitbucketOAuthErrorData;

  constructor(what: string, status: number, body: string, contentType: string | undefined, hint?: string) {
    const bitbucketMessage = messageFromBody(body, contentType);
    super(
      `${what} failed: Bitbucket answered ${status}${bitbucketMessage ? `: ${bitbucketMessage}` : ''}${hint ? ` (${hint})` : ''}`,
      'BITBUCKET_API_ERROR',
      { statusCode: status, data: body },
    );
    this.status = status;
    this.bitbucketMessage = bitbucketMessage;
  }
}

/**
 * Bitbucket answered 410 Gone with its removal notice (`error.message` starting `CHANGE-N - `):
 * the endpoint no longer exists. `change` names Atlassian's changelog entry and
 * `announcementURL` where to read it. Usually an endpoint option points at an old URL.
 */
export class BitbucketEndpointRemovedError extends BitbucketError {
  /** Always 410. */
  readonly status: number;
  /** Atlassian's changelog id, e.g. `CHANGE-2770`. */
  readonly change: string;
  /** Where Atlassian explains the removal and names the replacement. */
  readonly announcementURL: string;
  declare oauthError: BitbucketOAuthErrorData;

  constructor(what: string, url: string, change: string, announcementURL: string, response: { status: number; body: string }) {
    super(
      `${what} failed: Bitbucket removed the endpoint ${url} (${change}); see ${announcementURL}`,
      'BITBUCKET_ENDPOINT_REMOVED',
      { statusCode: response.status, data: response.body },
    );
    this.status = response.status;
    this.change = change;
    this.announcementURL = announcementURL;
  }
}

/** Bitbucket answered, but not with what the protocol promises (not JSON, wrong shape, too large, unsafe `next`). */
export class BitbucketResponseError extends BitbucketError {
  constructor(
    message: string,
    code:
      | 'BITBUCKET_INVALID_RESPONSE'
      | 'BITBUCKET_RESPONSE_TOO_LARGE'
      | 'BITBUCKET_UNSAFE_PAGINATION' = 'BITBUCKET_INVALID_RESPONSE',
  ) {
    super(message, code);
  }
}

/**
 * Bitbucket took too long: one request longer than the `timeout` option allows (`limit:
 * 'request'`), or the whole login longer than its deadline, 3 × `timeout` (`limit: 'login'`).
 */
export class BitbucketTimeoutError extends BitbucketError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeout: number;
  /** Which limit: one request's, or the login's. */
  readonly limit: 'request' | 'login';

  constructor(what: string, timeout: number, limit: 'request' | 'login' = 'request') {
    super(
      limit === 'login'
        ? `${what} timed out: Bitbucket did not finish answering within the login's deadline of ${timeout} ms (3 × timeout)`
        : `${what} timed out: Bitbucket did not answer within ${timeout} ms`,
      'BITBUCKET_TIMEOUT',
    );
    this.timeout = timeout;
    this.limit = limit;
  }
}

/** The connection to Bitbucket failed (DNS, refused, reset, closed before the body ended). */
export class BitbucketNetworkError extends BitbucketError {
  constructor(what: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${what} failed: could not reach Bitbucket (${reason})`, 'BITBUCKET_NETWORK_ERROR', undefined, {
      cause,
    });
  }
}

const MAX_TEXT_MESSAGE = 200;
const CHANGE_NOTICE = /^(CHANGE-\d{1,9}) - /;
const CHANGELOG = 'https://developer.atlassian.com/cloud/bitbucket/changelog';

/**
 * The error for an answer that is not a success: Bitbucket's removal notice (a 410 whose
 * `error.message` starts `CHANGE-N - `) becomes a {@link BitbucketEndpointRemovedError},
 * anything else a {@link BitbucketAPIError}.
 */
export function apiError(what: string, response: HttpResponse, hint?: string): BitbucketError {
  const removed = response.status === 410 ? removalNotice(response.body) : undefined;
  if (removed) return new BitbucketEndpointRemovedError(what, safeURL(response.url), removed.change, removed.announcementURL, response);
  return new BitbucketAPIError(what, response.status, response.body, response.headers['content-type'], hint);
}

/** `CHANGE-N` and its announcement from `{"error": {"message": "CHANGE-N - …", "data": {"announcement_url"}}}`. */
function removalNotice(body: string): { change: string; announcementURL: string } | undefined {
  const parsed = parseJson(body);
  const error = parsed.ok && isJsonObject(parsed.value) ? parsed.value['error'] : undefined;
  const message = isJsonObject(error) ? optionalString(error, 'message') : undefined;
  const change = message ? CHANGE_NOTICE.exec(message)?.[1] : undefined;
  if (!change || !isJsonObject(error)) return undefined;
  const data = error['data'];
  const given = isJsonObject(data) ? optionalString(data, 'announcement_url') : undefined;
  // Only an Atlassian page is quoted; otherwise the changelog entry the id names.
  const announcementURL = given && given.startsWith('https://developer.atlassian.com/') && !/\s/.test(given) ? given : `${CHANGELOG}#${change}`;
  return { change, announcementURL };
}

/** A URL for a message: origin and path only, so that no query value (a secret, say) is repeated. */
export function safeURL(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/**
 * Bitbucket's own words from an error body: `error.message` of the REST API's
 * `{"type":"error","error":{...}}`, `error_description` of the token endpoint, or a short
 * text/plain body (the 429 rate-limit answer). HTML pages are never quoted.
 */
function messageFromBody(body: string, contentType: string | undefined): string | undefined {
  const parsed = parseJson(body);
  if (parsed.ok && isJsonObject(parsed.value)) {
    const error = parsed.value['error'];
    if (isJsonObject(error)) {
      const message = optionalString(error, 'message');
      if (message) return message.slice(0, MAX_TEXT_MESSAGE);
    }
    const description = optionalString(parsed.value, 'error_description');
    if (description) return description.slice(0, MAX_TEXT_MESSAGE);
    if (typeof error === 'string' && error) return error.slice(0, MAX_TEXT_MESSAGE);
    return undefined;
  }
  const type = (contentType ?? '').toLowerCase();
  const text = body.trim();
  if (type.startsWith('text/plain') && text && text.length <= MAX_TEXT_MESSAGE) return text;
  return undefined;
}
