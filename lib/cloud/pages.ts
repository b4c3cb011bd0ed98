import { BitbucketResponseError } from '../core/errors';
import type { HttpResponse } from '../core/http';
import { isJsonObject, parseJson } from '../core/json';

/** At most this many pages (100 entries each) are read from a paginated endpoint. */
export const MAX_PAGES = 10;
/** Query parameter names that carry credentials in OAuth and common APIs. */
const CREDENTIAL_PARAMETER = /^(access_token|refresh_token|id_token|token|code|code_verifier|client_secret|client_assertion|password|secret|api_key|apikey|jwt|signature|sig)$/i;

export interface Page<T> {
  values: T[];
  /** The `next` link, when Bitbucket says there is another page. */
  next: string | undefined;
}

/**
 * Parses one page of a Bitbucket paginated list (`{ values: [...], next? }`). `parseValue`
 * returns undefined for an entry it cannot read. Throws `BitbucketResponseError` on any other shape.
 */
export function parsePage<T>(body: string, what: string, parseValue: (entry: unknown) => T | undefined, entryProblem: string): Page<T> {
  const parsed = parseJson(body);
  if (!parsed.ok) throw new BitbucketResponseError(`Failed to parse ${what}: Bitbucket did not answer JSON`);
  const json = parsed.value;
  if (!isJsonObject(json) || !Array.isArray(json['values'])) {
    throw new BitbucketResponseError(`Failed to parse ${what}: the answer has no values list`);
  }
  const values = (json['values'] as unknown[]).map((entry) => {
    const value = parseValue(entry);
    if (value === undefined) throw new BitbucketResponseError(`Failed to parse ${what}: ${entryProblem}`);
    return value;
  });
  const next = json['next'];
  if (next !== undefined && next !== null && typeof next !== 'string') {
    throw new BitbucketResponseError(`Failed to parse ${what}: the next link is not a string`);
  }
  return { values, next: next || undefined };
}

/** A paginated endpoint, parsed once: its first page's URL (`pagelen=100`) and the origin `next` must keep. */
export interface PagedEndpoint {
  first: string;
  origin: string;
}

export function pagedEndpoint(url: string): PagedEndpoint {
  const first = new URL(url);
  first.searchParams.set('pagelen', '100');
  return { first: first.href, origin: first.origin };
}

export interface PagedFetch<T> {
  /** e.g. "user emails", used in error messages. */
  what: string;
  endpoint: PagedEndpoint;
  get(url: string): Promise<HttpResponse>;
  parse(body: string): Page<T>;
  /** Turns a non-200 answer into an error (or, by returning a list, into a result). */
  onError(response: HttpResponse, firstPage: boolean): T[] | Error;
}

/**
 * Reads every page of a list, following `next` only on the endpoint's origin, without
 * userinfo or a credential in its query, never twice, and for at most {@link MAX_PAGES} pages:
 * a hostile or broken `next` can neither carry the token elsewhere nor keep the login busy forever.
 */
export async function fetchAllPages<T>(request: PagedFetch<T>): Promise<T[]> {
  const unsafe = (problem: string): BitbucketResponseError =>
    new BitbucketResponseError(`Failed to fetch ${request.what}: ${problem}`, { code: 'BITBUCKET_UNSAFE_PAGINATION' });
  const seen = new Set<string>();
  const values: T[] = [];
  let url = request.endpoint.first;
  for (let page = 1; ; page += 1) {
    if (page > MAX_PAGES) throw unsafe(`more than ${MAX_PAGES} pages`);
    seen.add(url);
    const response = await request.get(url);
    if (response.status !== 200) {
      const outcome = request.onError(response, page === 1);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    }
    const parsed = request.parse(response.body);
    values.push(...parsed.values);
    if (parsed.next === undefined) return values;
    let next: URL;
    try {
      next = new URL(parsed.next, request.endpoint.first);
    } catch {
      throw unsafe('the next link is not a URL');
    }
    if (next.origin !== request.endpoint.origin || next.username || next.password) throw unsafe("the next link leaves the endpoint's origin");
    // A credential in a URL ends up in logs and error messages: such a link is not followed.
    if ([...next.searchParams.keys()].some((name) => CREDENTIAL_PARAMETER.test(name))) {
      throw unsafe('the next link carries a credential in its query');
    }
    if (seen.has(next.href)) throw unsafe('the next link loops');
    url = next.href;
  }
}
