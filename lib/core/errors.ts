import { InternalOAuthError } from 'passport-oauth2';

type ResponseErrorCode = 'BITBUCKET_INVALID_RESPONSE' | 'BITBUCKET_RESPONSE_TOO_LARGE' | 'BITBUCKET_UNSAFE_PAGINATION';

/**
 * Stable codes carried by every {@link BitbucketError}: the class says what kind of thing went
 * wrong (for `instanceof`), the code which case, and survives serialisation and a second copy
 * of the package. Each class has its own code, except `BitbucketResponseError`'s three.
 */
export type BitbucketErrorCode = 'BITBUCKET_API_ERROR' | 'BITBUCKET_ENDPOINT_REMOVED' | ResponseErrorCode | 'BITBUCKET_TIMEOUT' | 'BITBUCKET_NETWORK_ERROR';

/** What Bitbucket answered, in the shape passport-oauth2's `InternalOAuthError` keeps. */
export interface BitbucketOAuthErrorData {
  statusCode: number;
  data: string;
}

/** What an error may carry besides its message: the status and body (kept in `oauthError`) Bitbucket answered with. */
export interface ErrorDetails {
  status?: number | undefined;
  body?: string | undefined;
  cause?: unknown;
}

/**
 * Base class of every error this package creates. It is an `InternalOAuthError`, so code that
 * already handles passport-oauth2's errors keeps working; `code` tells the cases apart.
 */
export class BitbucketError extends InternalOAuthError {
  readonly code: BitbucketErrorCode;
  declare readonly cause?: unknown;

  constructor(message: string, code: BitbucketErrorCode, details: ErrorDetails = {}) {
    super(message, details.body === undefined ? undefined : { statusCode: details.status ?? 0, data: details.body });
    this.name = new.target.name;
    this.code = code;
    if ('cause' in details) {
      Object.defineProperty(this, 'cause', { value: details.cause, configurable: true, enumerable: false, writable: true });
    }
  }

  /** Name and message only: the response body stays in `oauthError`, out of log lines. */
  override toString(): string {
    return `${this.name}: ${this.message}`;
  }
}

/** Bitbucket answered with an error status; `message` carries Bitbucket's own words when it sent some. */
export class BitbucketAPIError extends BitbucketError {
  /** The HTTP status Bitbucket answered with. */
  readonly status: number;
  /** Bitbucket's own message (`error.message` or a short text body), when there was one. */
  readonly bitbucketMessage: string | undefined;
  declare oauthError: BitbucketOAuthErrorData;

  constructor(message: string, details: ErrorDetails & { status: number; body: string; bitbucketMessage?: string | undefined }) {
    super(message, 'BITBUCKET_API_ERROR', details);
    this.status = details.status;
    this.bitbucketMessage = details.bitbucketMessage;
  }
}

/** Bitbucket answered 410 Gone with its removal notice (`CHANGE-N - …`): usually an endpoint option points at an old URL. */
export class BitbucketEndpointRemovedError extends BitbucketError {
  /** Always 410. */
  readonly status: number;
  /** Atlassian's changelog id, e.g. `CHANGE-2770`. */
  readonly change: string;
  /** Where Atlassian explains the removal and names the replacement. */
  readonly announcementURL: string;
  declare oauthError: BitbucketOAuthErrorData;

  constructor(message: string, details: ErrorDetails & { status: number; body: string; change: string; announcementURL: string }) {
    super(message, 'BITBUCKET_ENDPOINT_REMOVED', details);
    this.status = details.status;
    this.change = details.change;
    this.announcementURL = details.announcementURL;
  }
}

/** Bitbucket answered, but not with what the protocol promises (not JSON, wrong shape, too large, unsafe `next`). */
export class BitbucketResponseError extends BitbucketError {
  constructor(message: string, details: ErrorDetails & { code?: ResponseErrorCode } = {}) {
    super(message, details.code ?? 'BITBUCKET_INVALID_RESPONSE', details);
  }
}

/** Bitbucket took too long: one request longer than `timeout` (`limit: 'request'`), or the login past 3 × `timeout` (`'login'`). */
export class BitbucketTimeoutError extends BitbucketError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeout: number;
  /** Which limit: one request's, or the login's. */
  readonly limit: 'request' | 'login';

  constructor(message: string, details: ErrorDetails & { timeout: number; limit: 'request' | 'login' }) {
    super(message, 'BITBUCKET_TIMEOUT', details);
    this.timeout = details.timeout;
    this.limit = details.limit;
  }
}

/** The connection to Bitbucket failed (DNS, refused, reset, closed before the body ended). */
export class BitbucketNetworkError extends BitbucketError {
  constructor(message: string, details: ErrorDetails & { cause: unknown }) {
    super(message, 'BITBUCKET_NETWORK_ERROR', details);
  }
}
