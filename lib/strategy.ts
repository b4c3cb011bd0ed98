import { InternalOAuthError, Strategy as OAuth2Strategy, type StrategyOptions as OAuth2StrategyOptions, TokenError } from 'passport-oauth2';
import { BitbucketAPIError, BitbucketError, BitbucketResponseError } from './errors';
import { orderEmails, parseEmailsPage, type RawEmail } from './emails';
import { settle } from './http';
import { BitbucketOAuth2 } from './oauth2';
import { resolveOptions } from './options';
import { parseProfile } from './profile';
import type {
  Profile,
  StrategyOptions,
  StrategyOptionsWithRequest,
  VerifyFunction,
  VerifyFunctionWithParams,
  VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams,
} from './types';
import { adaptVerify } from './verify';

/** At most this many pages of `/2.0/user/emails` (100 addresses each) are read. */
export const MAX_EMAIL_PAGES = 10;
const EMAILS_PAGE_LENGTH = '100';

/**
 * Passport strategy for signing in with Bitbucket Cloud (OAuth 2.0).
 *
 * After the code exchange it fetches `/2.0/user` and `/2.0/user/emails` concurrently and
 * hands the verify function a {@link Profile} whose `emails` hold confirmed addresses, the
 * primary first.
 *
 * @example
 * ```ts
 * passport.use(new BitbucketStrategy(
 *   { clientID: process.env.BITBUCKET_KEY!, clientSecret: process.env.BITBUCKET_SECRET!,
 *     callbackURL: 'https://app.example.com/auth/bitbucket/callback' },
 *   async (accessToken, refreshToken, profile) => users.upsert(profile.id, profile),
 * ));
 * ```
 */
export class Strategy extends OAuth2Strategy {
  protected declare _oauth2: BitbucketOAuth2;
  private readonly _userProfileURL: string;
  private readonly _userEmailsURL: string;
  private readonly _skipEmails: boolean;
  private readonly _includeUnverifiedEmails: boolean;

  constructor(options: StrategyOptions, verify: VerifyFunction);
  constructor(options: StrategyOptions, verify: VerifyFunctionWithParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequest);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndParams);
  constructor(
    options: StrategyOptions | StrategyOptionsWithRequest,
    verify:
      | VerifyFunction
      | VerifyFunctionWithParams
      | VerifyFunctionWithRequest
      | VerifyFunctionWithRequestAndParams,
  ) {
    const resolved = resolveOptions(options);
    const base = {
      ...resolved.passThrough,
      clientID: resolved.clientID,
      // The secret is kept by BitbucketOAuth2 below, off every own property.
      clientSecret: '',
      authorizationURL: resolved.authorizationURL,
      tokenURL: resolved.tokenURL,
      state: resolved.state,
      passReqToCallback: resolved.passReqToCallback,
    };
    super(base as OAuth2StrategyOptions, adaptVerify(verify, resolved.passReqToCallback));
    this.name = 'bitbucket';
    this._oauth2 = new BitbucketOAuth2(
      resolved.clientID,
      resolved.clientSecret,
      '',
      resolved.authorizationURL,
      resolved.tokenURL,
      resolved.headers,
      { timeout: resolved.timeout },
    );
    this._userProfileURL = resolved.userProfileURL;
    this._userEmailsURL = resolved.userEmailsURL;
    this._skipEmails = resolved.skipEmails;
    this._includeUnverifiedEmails = resolved.includeUnverifiedEmails;
  }

  /**
   * Loads the profile: `/2.0/user` and `/2.0/user/emails` concurrently (one round trip after
   * the token), then the emails' further pages, if any.
   */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: Profile) => void): void {
    settle(this.loadProfile(accessToken), done);
  }

  private async loadProfile(accessToken: string): Promise<Profile> {
    const controller = new AbortController();
    const user = this.fetchUser(accessToken, controller.signal);
    const emails = this._skipEmails ? Promise.resolve([]) : this.fetchEmails(accessToken, controller.signal);
    // If either fails, the other is cancelled rather than left running.
    user.catch(() => controller.abort());
    emails.catch(() => controller.abort());
    const [profile, rawEmails] = await Promise.all([user, emails]);
    profile.emails = orderEmails(rawEmails, this._includeUnverifiedEmails);
    return profile;
  }

  private async fetchUser(accessToken: string, signal: AbortSignal): Promise<Profile> {
    const response = await this._oauth2.apiGet(this._userProfileURL, accessToken, signal);
    if (response.status !== 200) {
      throw new BitbucketAPIError('Fetching the user profile', response.status, response.body, response.headers['content-type']);
    }
    return parseProfile(response.body);
  }

  private async fetchEmails(accessToken: string, signal: AbortSignal): Promise<RawEmail[]> {
    const first = new URL(this._userEmailsURL);
    first.searchParams.set('pagelen', EMAILS_PAGE_LENGTH);
    const seen = new Set<string>();
    const emails: RawEmail[] = [];
    let url: string | undefined = first.href;
    for (let page = 1; url !== undefined; page += 1) {
      if (page > MAX_EMAIL_PAGES) {
        throw new BitbucketResponseError(
          `Failed to fetch user emails: more than ${MAX_EMAIL_PAGES} pages`,
          'BITBUCKET_UNSAFE_PAGINATION',
        );
      }
      seen.add(url);
      const response = await this._oauth2.apiGet(url, accessToken, signal);
      // NOTE: Bitbucket answers 403 ("Your credentials lack one or more required privilege
      // scopes") when the consumer lacks the Account: Email permission. The user can still
      // sign in; the profile just has no addresses.
      if (response.status === 403 && page === 1) return [];
      if (response.status !== 200) {
        throw new BitbucketAPIError('Fetching the user emails', response.status, response.body, response.headers['content-type']);
      }
      const parsed = parseEmailsPage(response.body);
      emails.push(...parsed.values);
      url = parsed.next === undefined ? undefined : this.checkNext(parsed.next, seen);
    }
    return emails;
  }

  /** A `next` link is followed only on the origin of `userEmailsURL`, without userinfo, once. */
  private checkNext(next: string, seen: ReadonlySet<string>): string {
    let url: URL;
    try {
      url = new URL(next, this._userEmailsURL);
    } catch {
      throw new BitbucketResponseError('Failed to fetch user emails: the next link is not a URL', 'BITBUCKET_UNSAFE_PAGINATION');
    }
    if (url.origin !== new URL(this._userEmailsURL).origin || url.username || url.password) {
      throw new BitbucketResponseError(
        'Failed to fetch user emails: the next link leaves the emails endpoint\'s origin',
        'BITBUCKET_UNSAFE_PAGINATION',
      );
    }
    if (seen.has(url.href)) {
      throw new BitbucketResponseError('Failed to fetch user emails: the next link loops', 'BITBUCKET_UNSAFE_PAGINATION');
    }
    return url.href;
  }

  /** Token errors and this package's own errors reach the app as they are, not wrapped. */
  protected _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof TokenError || err instanceof BitbucketError) return err;
    return new InternalOAuthError(message, err);
  }
}
