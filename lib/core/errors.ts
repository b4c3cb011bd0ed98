import { InternalOAuthError, TokenError } from 'passport-oauth2';
import type { HttpResponse } from './http';
import { type JsonObject, isJsonObject, member, optionalString, parseJson, parseObject } from './json';

type ResponseErrorCode = 'BITBUCKET_INVALID_RESPONSE' | 'BITBUCKET_RESPONSE_TOO_LARGE' | 'BITBUCKET_UNSAFE_PAGINATION';

/** Stable codes, one per error class (three for `BitbucketResponseError`): they survive serialisation and a second copy of the package. */
export type BitbucketErrorCode = 'BITBUCKET_API_ERROR' | 'BITBUCKET_ENDPOINT_REMOVED' | ResponseErrorCode | 'BITBUCKET_TIMEOUT' | 'BITBUCKET_NETWORK_ERROR';

/** What Bitbucket answered, in the shape passport-oauth2's `InternalOAuthError` keeps. */
export interface BitbucketOAuthErrorData { statusCode: number; data: string }

export type ErrorDetails = { status?: number | undefined; body?: string | undefined; cause?: unknown };

/** Base class of every error this package creates: an `InternalOAuthError`, so existing handlers keep working; `code` tells the cases apart. */
export class BitbucketError extends InternalOAuthError {
  readonly code: BitbucketErrorCode;
  declare readonly cause?: unknown;

  constructor(message: string, code: BitbucketErrorCode, details: ErrorDetails = {}) {
    super(message, details.body === undefined ? undefined : { statusCode: details.status ?? 0, data: details.body });
    this.name = new.target.name;
    this.code = code;
    if ('cause' in details) Object.defineProperty(this, 'cause', { value: details.cause, configurable: true, enumerable: false, writable: true });
  }

  /** Name and message only: the response body stays in `oauthError`, out of log lines. */
  override toString(): string { return `${this.name}: ${this.message}`; }
}

/** Bitbucket answered with an error status; `message` carries Bitbucket's own words when it sent some. */
export class BitbucketAPIError extends BitbucketError {
  readonly status: number;
  /** Bitbucket's own message (`error.message` or a short text body), when there was one. */
  readonly bitbucketMessage: string | undefined;
  declare oauthError: BitbucketOAuthErrorData;

  constructor(message: string, details: ErrorDetails & { status: number; body: string; bitbucketMessage?: string | undefined }) {
    super(message, 'BITBUCKET_API_ERROR', details);
    ({ status: this.status, bitbucketMessage: this.bitbucketMessage } = details);
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
    ({ status: this.status, change: this.change, announcementURL: this.announcementURL } = details);
  }
}

/** Bitbucket answered, but not with what the protocol promises (not JSON, wrong shape, too large, unsafe `next`). */
export class BitbucketResponseError extends BitbucketError {
  constructor(message: string, details: ErrorDetails & { code?: ResponseErrorCode } = {}) {
    super(message, details.code ?? 'BITBUCKET_INVALID_RESPONSE', details);
  }
}

/** One request took longer than `timeout` (`limit: 'request'`), or a login or refresh past its deadline (`'login'`: 3 or 2 × `timeout`). */
export class BitbucketTimeoutError extends BitbucketError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeout: number;
  readonly limit: 'request' | 'login';

  constructor(message: string, details: ErrorDetails & { timeout: number; limit: 'request' | 'login' }) {
    super(message, 'BITBUCKET_TIMEOUT', details);
    ({ timeout: this.timeout, limit: this.limit } = details);
  }
}

/** The connection to Bitbucket failed (DNS, refused, reset, closed before the body ended). */
export class BitbucketNetworkError extends BitbucketError {
  constructor(message: string, details: ErrorDetails & { cause: unknown }) { super(message, 'BITBUCKET_NETWORK_ERROR', details); }
}

export const parseFailure = (what: string, problem: string) => new BitbucketResponseError(`Failed to parse ${what}: ${problem}`);

export function jsonBody(body: string, what: string): JsonObject {
  const parsed = parseJson(body);
  if (isJsonObject(parsed)) return parsed;
  throw parseFailure(what, parsed === undefined ? 'Bitbucket did not answer JSON' : 'the answer is not a JSON object');
}

const MAX_TEXT_MESSAGE = 200;
const CHANGELOG = 'https://developer.atlassian.com/cloud/bitbucket/changelog';
/** Bitbucket's scope names and the boxes that grant them on the OAuth consumer. */
const PERMISSIONS: Readonly<Record<string, string>> = { account: 'Account: Read', email: 'Account: Email' };

/** A failed answer's error: a 410 removal notice is a BitbucketEndpointRemovedError, else a BitbucketAPIError (`scopeHint`: a 403 names the box). */
export function apiError(what: string, response: HttpResponse, scopeHint = false): BitbucketError {
  const { status, body } = response;
  const json = parseObject(body);
  const error = member(json, 'error');
  const change = status === 410 ? /^(CHANGE-\d{1,9}) - /.exec(optionalString(error, 'message') ?? '')?.[1] : undefined;
  if (change) {
    const given = optionalString(member(error, 'data'), 'announcement_url');
    const announcementURL = given && given.startsWith('https://developer.atlassian.com/') && !/\s/.test(given) ? given : `${CHANGELOG}#${change}`;
    const message = `${what} failed: Bitbucket removed the endpoint ${safeURL(response.url)} (${change}); see ${announcementURL}`;
    return new BitbucketEndpointRemovedError(message, { status, body, change, announcementURL });
  }
  const bitbucketMessage = messageFromBody(json, body, response.headers['content-type']);
  const required = scopeHint && status === 403 ? (missingScopes(response) ?? ['account']) : undefined;
  const boxes = required?.map((scope) => `"${PERMISSIONS[String(scope)] ?? String(scope)}"`).join(' and ');
  const hint = required ? ` (tick the ${boxes} permission on the Bitbucket OAuth consumer (Workspace settings → OAuth consumers → Edit))` : '';
  const message = `${what} failed: Bitbucket answered ${status}${bitbucketMessage ? `: ${bitbucketMessage}` : ''}${hint}`;
  return new BitbucketAPIError(message, { status, body, bitbucketMessage });
}

export type Get = (url: string) => Promise<HttpResponse>;

/** An access check: 200 is `read`, a `denied` status undefined (no access), else an error; so is a 403 naming missing scopes, with `scopeHint`. */
export async function accessAnswer<T>(answer: Promise<HttpResponse>, what: string, read: (body: string) => T, denied: number[], scopeHint = false) {
  const response = await answer;
  if (response.status === 200) return read(response.body);
  if (denied.includes(response.status) && !(scopeHint && response.status === 403 && missingScopes(response))) return undefined;
  throw apiError(what, response, scopeHint);
}

export function tokenError(what: string, response: HttpResponse): Error {
  const json = parseObject(response.body);
  const code = optionalString(json, 'error');
  if (code) return new TokenError(optionalString(json, 'error_description'), code, optionalString(json, 'error_uri'), response.status);
  // A body naming a token (a gateway's 502 with the token response, cut short even) is not kept: its tokens are not known to redact.
  const namesToken = ['access_token', 'refresh_token', 'id_token'].some((name) => response.body.includes(name));
  return apiError(what, namesToken ? { ...response, body: REDACTED } : response);
}

/** The scopes a 403 says the token lacks (`error.detail.required`, `fixtures/error-scope.json`), not a refusal of the resource. */
function missingScopes(response: HttpResponse): unknown[] | undefined {
  const required = member(member(member(parseObject(response.body), 'error'), 'detail'), 'required');
  return Array.isArray(required) ? required : undefined;
}

/** Bitbucket's words: `error.message` (Cloud), `errors[0].message` (Data Center), `error_description`, a short text/plain body (429); not HTML. */
function messageFromBody(json: JsonObject | undefined, body: string, contentType: string | undefined): string | undefined {
  const text = body.trim();
  if (!json) return (contentType ?? '').toLowerCase().startsWith('text/plain') && text && text.length <= MAX_TEXT_MESSAGE ? text : undefined;
  const errors = json['errors'];
  const message = optionalString(json['error'], 'message') || optionalString(Array.isArray(errors) ? errors[0] : undefined, 'message');
  const words = message || optionalString(json, 'error_description') || optionalString(json, 'error') || '';
  // A cut mid-word could keep part of an echoed secret, which redaction would no longer find: a cut message ends at a space.
  return (words.length > MAX_TEXT_MESSAGE ? words.slice(0, words.lastIndexOf(' ', MAX_TEXT_MESSAGE) + 1) : words).trim() || undefined;
}

/** A URL for a message: origin and path only, so that no query value (a secret, say) is repeated. */
export function safeURL(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  return parsed ? `${parsed.origin}${parsed.pathname}` : '(an invalid URL)';
}

export const REDACTED = '[redacted]';
const MIN_SECRET_LENGTH = 8; // shorter values are not treated as secrets: replacing them would mangle ordinary text

/** Form encoding (RFC 6749 §2.3.1, the token request's body): space as `+`, a lone surrogate as U+FFFD. */
export const formEncode = (text: string): string => new URLSearchParams([['', text]]).toString().slice(1);

/** The forms of each secret something may echo (as sent, URL-encoded, form-encoded, JSON-escaped; `html`: HTML-escaped), longest first. */
export function secretForms(secrets: ReadonlyArray<string | undefined>, html = false): string[] {
  const forms = secrets.flatMap((secret) => {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return [];
    // encodeURIComponent throws on a lone surrogate (not well-formed UTF-16): such a secret is kept as it is.
    const uri = /\p{Cs}/u.test(secret) ? secret : encodeURIComponent(secret);
    const json = JSON.stringify(secret).slice(1, -1);
    // Some encoders (PHP's, some proxies') write `/` as `\/` in JSON.
    return [secret, uri, uri.split('%20').join('+'), formEncode(secret), json, json.split('/').join('\\/'), ...(html ? htmlForms(secret) : [])];
  });
  return [...new Set(forms)].filter((form) => form.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

const NAMED: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '/': '&sol;', '+': '&plus;', '=': '&equals;',
};
/** A secret as HTML escapers write it (OWASP, Go, ESAPI, all non-word), once or twice; none past 8 KiB (no token, a forged code); no RegExp. */
function htmlForms(secret: string): string[] {
  const word = (c: string): boolean => (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  const sets = ['&<>"\'/', '&<>"\'+', '&<>"\'+=` \t\n'].map((set) => (c: string) => set.includes(c))
    .concat((c) => !word(c) && !',.-_ '.includes(c), (c) => !word(c));
  const styles = [(n: number) => `&#x${n.toString(16).toUpperCase()};`, (n: number) => `&#x${n.toString(16)};`, (n: number) => `&#${n};`];
  return secret.length > 8192 ? [] : sets.flatMap((escapes) => [...styles, undefined].map((style) => [...secret].map((c) =>
    (!escapes(c) ? c : style ? style(c.codePointAt(0)!) : (NAMED[c] ?? `&#${c.codePointAt(0)};`))).join('')))
    .flatMap((form) => [form, form.split('&').join('&amp;')]);
}

export const holdsSecret = (text: string, forms: readonly string[]): boolean => forms.some((form) => text.includes(form));

/** The one redaction rule, in place: each secret in each form leaves each string in `value`, deep in own writable properties (`cause`…). */
export function redact<T>(value: T, secrets: ReadonlyArray<string | undefined>): T {
  const forms = secretForms(secrets);
  if (forms.length === 0) return value;
  let html: string[] | undefined; // with the HTML-escaped forms: worked out only for a text with a reference in it (`&`)
  const formsIn = (text: string): string[] => (text.includes('&') ? (html ??= secretForms(secrets, true)) : forms);
  const seen = new Set<object>();
  const visit = (node: unknown): unknown => {
    if (typeof node === 'string') return formsIn(node).reduce((text, form) => text.split(form).join(REDACTED), node);
    // NOTE: Node's parse errors keep the bytes received (`rawPacket`), which may echo a secret; bytes are not read for one.
    if (node instanceof Uint8Array) return new Uint8Array(0);
    if (typeof node !== 'object' || node === null || seen.has(node)) return node;
    seen.add(node);
    for (const key of Reflect.ownKeys(node)) {
      const descriptor = Object.getOwnPropertyDescriptor(node, key);
      if (!descriptor?.writable) continue;
      const next = visit(descriptor.value);
      if (next !== descriptor.value) (node as Record<PropertyKey, unknown>)[key] = next;
    }
    return node;
  };
  return visit(value) as T;
}
