import { accessAnswer, apiError, type Get } from '../core/errors';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { resolveOptions } from './options';
import {
  fetchAllPages, mergeWorkspaces, orderEmails, parseEmailsPage, parsePermission, parseProfile, parseWorkspacesPage, type RawEmail, workspaceRefusal,
} from './profile';
import type {
  BitbucketWorkspace, Profile, StrategyOptions, StrategyOptionsWithRequest, VerifyFunction, VerifyFunctionWithParams, VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams, VerifyFunctionWithRequestAndTokenParams, VerifyFunctionWithTokenParams,
} from './types';

/**
 * Passport strategy for signing in with Bitbucket Cloud (OAuth 2.0).
 *
 * After the code exchange it fetches `/2.0/user` and `/2.0/user/emails` concurrently and hands the verify function a
 * {@link Profile} whose `emails` hold confirmed addresses, the primary first.
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
export class Strategy extends BitbucketStrategyBase<Profile> {
  private readonly _settings: ReturnType<typeof resolveOptions>['settings'];

  // The withTokenParams() forms come first, so that TypeScript infers their object's types.
  constructor(options: StrategyOptions, verify: VerifyFunctionWithTokenParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndTokenParams);
  constructor(options: StrategyOptions, verify: VerifyFunction);
  constructor(options: StrategyOptions, verify: VerifyFunctionWithParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequest);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndParams);
  // Both are checked at run time: the options by resolveOptions(), the function by the base class.
  constructor(options: unknown, verify: unknown) {
    const { common, settings, product } = resolveOptions(options);
    super(common, product, verify);
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: Profile; refusal?: Refusal }> {
    const { skipEmails, workspaces: allowed, fetchWorkspaces, includeUnverifiedEmails, minimumWorkspaceRole } = this._settings;
    const get: Get = (url) => this._oauth2.apiGet(url, accessToken, login);
    const [profile, emails, memberships, listed] = await Promise.all([
      get(this._settings.userProfileURL).then((response) => {
        if (response.status !== 200) throw apiError('Fetching the user profile', response, true);
        return parseProfile(response.body);
      }),
      skipEmails ? [] : this.fetchEmails(get),
      allowed ? this.checkWorkspaces(get) : [],
      fetchWorkspaces
        ? fetchAllPages('workspaces', this._settings.workspaceList, get, parseWorkspacesPage, (r) => apiError('Fetching the workspaces', r, true))
        : undefined,
    ]);
    profile.emails = orderEmails(emails, includeUnverifiedEmails);
    if (listed || allowed) profile.workspaces = listed ? mergeWorkspaces(listed, memberships) : memberships;
    // The workspace rule: only what the permission requests found counts, never the listing's entries.
    const message = allowed && workspaceRefusal(memberships, allowed, minimumWorkspaceRole);
    return message ? { profile, refusal: { message, reason: 'workspace' } } : { profile };
  }

  /** The user's role in each allowed workspace, all asked at once; a 403 or 404 means the user is not in that one. */
  private async checkWorkspaces(get: Get): Promise<BitbucketWorkspace[]> {
    const answers = await Promise.all(
      this._settings.permissionURLs.map(([slug, url]) =>
        accessAnswer(get(url), 'Fetching the workspace permission', (body) => parsePermission(body, slug), [403, 404], true),
      ),
    );
    return answers.filter((m) => m !== undefined);
  }

  private fetchEmails(get: Get): Promise<RawEmail[]> {
    // NOTE: Bitbucket answers 403 ("Your credentials lack one or more required privilege scopes") when the consumer lacks the
    // Account: Email permission. The user can still sign in; the profile just has no addresses.
    return fetchAllPages('user emails', this._settings.emails, get, parseEmailsPage, (response, firstPage) =>
      response.status === 403 && firstPage ? [] : apiError('Fetching the user emails', response),
    );
  }
}
