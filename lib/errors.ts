import { InternalOAuthError } from 'passport-oauth2';
import { isJsonObject, optionalString, parseJson } from './json';

/** Stable codes carried by every {@link BitbucketError}. */
export type BitbucketErrorCode =
  | 'BITBUCKET_API_ERROR'
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

/** A request to Bitbucket took longer than the `timeout` option allows. */
export class BitbucketTimeoutError extends BitbucketError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeout: number;

  constructor(what: string, timeout: number) {
    super(`${what} timed out: Bitbucket did not answer within ${timeout} ms`, 'BITBUCKET_TIMEOUT');
    this.timeout = timeout;
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
