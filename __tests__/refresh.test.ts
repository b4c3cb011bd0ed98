import { TokenError } from 'passport-oauth2';
import { BitbucketAPIError, Strategy } from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { expectNoSecrets, options, REFRESH_TOKEN } from './helpers/bitbucket';
import { nock } from './helpers/nock';

describe('strategy.refresh()', () => {
  let bitbucket: BitbucketEmulator;
  afterEach(async () => {
    await bitbucket?.close();
  });

  async function tokensFor(strategy: Strategy): Promise<string> {
    const code = new URL(bitbucket.authorize('ada-lovelace')).searchParams.get('code')!;
    const client = (strategy as unknown as { _oauth2: { getOAuthAccessToken(c: string, p: object, cb: (...a: unknown[]) => void): void } })._oauth2;
    const result = await new Promise<unknown[]>((resolve) => client.getOAuthAccessToken(code, { grant_type: 'authorization_code' }, (...a) => resolve(a)));
    return result[2] as string;
  }

  it('returns the rotated refresh token and when the access token expires; the used one then dies', async () => {
    bitbucket = await startBitbucketEmulator({ callbackURL: options.callbackURL, refreshGraceMs: 0, tokenFormat: 'scopes' });
    const strategy = new Strategy({ ...bitbucket.strategyOptions }, () => undefined);
    const first = await tokensFor(strategy);
    const before = Date.now();
    const refreshed = await strategy.refresh(first);
    expect(refreshed.refreshToken).not.toBe(first);
    expect(refreshed.accessToken).toMatch(/^[\w-]{40,}$/);
    expect(refreshed.expiresIn).toBe(7200);
    expect(refreshed.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 7200 * 1000);
    expect(refreshed.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 7200 * 1000);
    expect(refreshed.scope).toBe('account email');
    expect(refreshed.params).not.toHaveProperty('refresh_token');
    await expect(strategy.refresh(first)).rejects.toMatchObject({ name: 'TokenError', code: 'invalid_grant' });
    const again = await strategy.refresh(refreshed.refreshToken);
    expect(again.refreshToken).not.toBe(refreshed.refreshToken);
  });

  it('keeps the old refresh token when Bitbucket sends none, and tolerates a missing expires_in', async () => {
    nock('https://bitbucket.org').post('/site/oauth2/access_token').reply(200, { access_token: 'new-access' });
    const refreshed = await new Strategy(options, () => undefined).refresh(REFRESH_TOKEN);
    expect(refreshed).toMatchObject({ accessToken: 'new-access', refreshToken: REFRESH_TOKEN, expiresIn: undefined, expiresAt: undefined, scope: undefined });
  });

  it('rejects with typed errors that carry no token', async () => {
    const strategy = new Strategy(options, () => undefined);
    await expect(strategy.refresh('')).rejects.toThrow(TypeError);
    nock('https://bitbucket.org').post('/site/oauth2/access_token').reply(400, { error: 'invalid_grant', error_description: 'Invalid refresh_token' });
    const dead = await strategy.refresh(REFRESH_TOKEN).catch((e: unknown) => e);
    expect(dead).toBeInstanceOf(TokenError);
    expectNoSecrets(dead);
    nock('https://bitbucket.org').post('/site/oauth2/access_token').reply(503, 'down', { 'Content-Type': 'text/plain' });
    const down = await strategy.refresh(REFRESH_TOKEN).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(BitbucketAPIError);
    expectNoSecrets(down);
  });
});
