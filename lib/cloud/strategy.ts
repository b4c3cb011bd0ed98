import { accessAnswer, apiError, type Get } from '../core/errors';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { resolveOptions } from './options';
import {
  fetchAllPages, mergeWorkspaces, orderEmails, parseEmailsPage, parsePermission, parseProfile, parseWorkspacesPage, workspaceRefusal,
} from './profile';
import type {
  Profile, StrategyOptions, StrategyOptionsWithRequest, VerifyFunction, VerifyFunctionWithParams, VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams, VerifyFunctionWithRequestAndTokenParams, VerifyFunctionWithTokenParams,
} from './types';

/**
 * Passport strategy for Bitbucket Cloud (OAuth 2.0): the verify function gets a {@link Profile} whose `emails` are confirmed, primary first.
 * @example
 * ```ts
 * passport.use(new BitbucketStrategy({ clientID, clientSecret, callbackURL: 'https://app.example.com/auth/bitbucket/callback' },
 *   async (accessToken, refreshToken, profile) => users.upsert(profile.id, profile)));
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
  constructor(options: unknown, verify: unknown) {
    const { common, settings, product } = resolveOptions(options);
    super(common, product, verify);
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: Profile; refusal?: Refusal }> {
    const { skipEmails, workspaces: allowed, fetchWorkspaces, workspaceList, minimumWorkspaceRole } = this._settings;
    const get: Get = (url) => this._oauth2.apiGet(url, accessToken, login);
    // With no status in `denied`, accessAnswer() gives the profile or throws.
    const user = accessAnswer(get(this._settings.userProfileURL), 'Fetching the user profile', parseProfile, [], true) as Promise<Profile>;
    const [profile, emails, permissions, listed] = await Promise.all([
      user,
      // NOTE: without the consumer's Account: Email permission Bitbucket answers 403; the user signs in with no addresses.
      skipEmails ? [] : fetchAllPages('user emails', this._settings.emails, get, parseEmailsPage, (response, firstPage) =>
        response.status === 403 && firstPage ? [] : apiError('Fetching the user emails', response)),
      Promise.all(this._settings.permissionURLs.map(async ([slug, url]) => {
        const body = await accessAnswer(get(url), 'Fetching the workspace permission', (text) => text, [403, 404], true);
        return body === undefined ? undefined : parsePermission(body, slug, (await user).id);
      })),
      fetchWorkspaces && fetchAllPages('workspaces', workspaceList, get, parseWorkspacesPage, (r) => apiError('Fetching the workspaces', r, true)),
    ]);
    profile.emails = orderEmails(emails, this._settings.includeUnverifiedEmails);
    const memberships = permissions.filter((m) => m !== undefined);
    if (listed || allowed) profile.workspaces = listed ? mergeWorkspaces(listed, memberships) : memberships;
    // The workspace rule: only what the permission requests found counts, never the listing's entries.
    const message = allowed && workspaceRefusal(memberships, allowed, minimumWorkspaceRole);
    return message ? { profile, refusal: { message, reason: 'workspace' } } : { profile };
  }
}
