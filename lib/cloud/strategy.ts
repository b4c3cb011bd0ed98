import { apiError, BitbucketResponseError, missingScopes } from '../core/errors';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { type CloudSettings, type MinimumWorkspaceRole, resolveOptions } from './options';
import {
  fetchAllPages,
  isPermitted,
  mergeWorkspaces,
  orderEmails,
  parseEmailsPage,
  parsePermission,
  parseProfile,
  parseWorkspacesPage,
  type RawEmail,
  unknownRoleMessage,
} from './profile';
import type {
  BitbucketWorkspace,
  Profile,
  StrategyOptions,
  StrategyOptionsWithRequest,
  VerifyFunction,
  VerifyFunctionWithParams,
  VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams,
  VerifyFunctionWithRequestAndTokenParams,
  VerifyFunctionWithTokenParams,
} from './types';

const REFUSALS: Readonly<Record<MinimumWorkspaceRole, string>> = {
  member: 'Only members of a permitted Bitbucket workspace may sign in.',
  'create-project': 'Only members of a permitted Bitbucket workspace with the create-project role or higher may sign in.',
  owner: 'Only owners of a permitted Bitbucket workspace may sign in.',
};

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
export class Strategy extends BitbucketStrategyBase<Profile> {
  private readonly _settings: CloudSettings;

  // The withTokenParams() forms come first, so that TypeScript infers their object's types.
  constructor(options: StrategyOptions, verify: VerifyFunctionWithTokenParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndTokenParams);
  constructor(options: StrategyOptions, verify: VerifyFunction);
  constructor(options: StrategyOptions, verify: VerifyFunctionWithParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequest);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndParams);
  // Both are checked at run time: the options by resolveOptions(), the function by the base class.
  constructor(options: unknown, verify: unknown) {
    const { common, settings } = resolveOptions(options);
    const { authorizationURL, tokenURL } = settings;
    const ahead = [settings.userProfileURL, ...(settings.skipEmails ? [] : [settings.emails])];
    super(common, { name: 'bitbucket', authorizationURL, tokenURL, clientAuthentication: 'basic', ahead }, verify);
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: Profile; refusal: Refusal | undefined }> {
    const { skipEmails, workspaces: allowed, fetchWorkspaces, includeUnverifiedEmails, minimumWorkspaceRole } = this._settings;
    const user = this.fetchUser(accessToken, login);
    const emails = skipEmails ? Promise.resolve([]) : this.fetchEmails(accessToken, login);
    const checked = allowed ? this.checkWorkspaces(accessToken, login) : undefined;
    const listed = fetchWorkspaces ? this.fetchWorkspaces(accessToken, login) : undefined;
    const [profile, rawEmails, memberships, all] = await Promise.all([user, emails, checked, listed]);
    profile.emails = orderEmails(rawEmails, includeUnverifiedEmails);
    if (all) profile.workspaces = mergeWorkspaces(all, memberships ?? []);
    else if (memberships) profile.workspaces = memberships;
    // The workspace rule: only what the permission requests found counts, never the listing's entries.
    const refusal = allowed && !isPermitted(memberships ?? [], allowed, minimumWorkspaceRole)
      ? { message: unknownRoleMessage(memberships ?? [], allowed) ?? REFUSALS[minimumWorkspaceRole], reason: 'workspace' }
      : undefined;
    return { profile, refusal };
  }

  /**
   * The user's role in each listed workspace, all asked at once. A 403 or 404 means the user is
   * not in that one; a 403 that names missing scopes is the consumer's problem, an error.
   */
  private async checkWorkspaces(accessToken: string, login: Login): Promise<BitbucketWorkspace[]> {
    const answers = await Promise.all(
      this._settings.permissionURLs.map(async ([slug, url]) => {
        const response = await this._oauth2.apiGet(url, accessToken, login);
        if (response.status === 200) {
          const membership = parsePermission(response.body);
          if (membership.slug.toLowerCase() !== slug.toLowerCase()) {
            throw new BitbucketResponseError('Failed to parse the workspace permission: it is for another workspace');
          }
          return membership;
        }
        if ((response.status === 403 && !missingScopes(response)) || response.status === 404) return undefined;
        throw apiError('Fetching the workspace permission', response, true);
      }),
    );
    return answers.filter((m): m is BitbucketWorkspace => m !== undefined);
  }

  private async fetchUser(accessToken: string, login: Login): Promise<Profile> {
    const response = await this._oauth2.apiGet(this._settings.userProfileURL, accessToken, login);
    if (response.status !== 200) throw apiError('Fetching the user profile', response, true);
    return parseProfile(response.body);
  }

  private fetchEmails(accessToken: string, login: Login): Promise<RawEmail[]> {
    return fetchAllPages({
      what: 'user emails',
      endpoint: this._settings.emails,
      get: (url) => this._oauth2.apiGet(url, accessToken, login),
      parse: parseEmailsPage,
      // NOTE: Bitbucket answers 403 ("Your credentials lack one or more required privilege
      // scopes") when the consumer lacks the Account: Email permission. The user can still
      // sign in; the profile just has no addresses.
      onError: (response, firstPage) => (response.status === 403 && firstPage ? [] : apiError('Fetching the user emails', response)),
    });
  }

  private fetchWorkspaces(accessToken: string, login: Login): Promise<BitbucketWorkspace[]> {
    return fetchAllPages({
      what: 'workspaces',
      endpoint: this._settings.workspaceList,
      get: (page) => this._oauth2.apiGet(page, accessToken, login),
      parse: parseWorkspacesPage,
      onError: (response) => apiError('Fetching the workspaces', response, true),
    });
  }
}
