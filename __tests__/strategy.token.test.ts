import { createHash } from 'node:crypto';
import { TokenError } from 'passport-oauth2';
import refresh from 'passport-oauth2-refresh';
import { BitbucketAPIError, BitbucketResponseError, Strategy, type Profile, type TokenParams, type VerifyFunctionWithParams } from '../lib';
import { ACCESS_TOKEN, BASIC, CLIENT_ID, CLIENT_SECRET, expectNoSecrets, fixture, options, REFRESH_TOKEN, tokenBody } from './helpers/bitbucket';
import { expectType, signIn } from './helpers/passport';
import { nock, mockApi, mockToken } from './helpers/nock';

type Captured = { accessToken: string; refreshToken: string; params: TokenParams; profile: Profile };

function capturing(extra: Record<string, unknown> = {}): { strategy: Strategy; seen: Captured[] } {
  const seen: Captured[] = [];
  const verify: VerifyFunctionWithParams = (accessToken, refreshToken, params, profile, done) => {
    seen.push({ accessToken, refreshToken, params, profile });
    done(null, { id: profile.id });
  };
  const strategy = new Strategy({ ...options, ...extra }, verify);
  return { strategy, seen };
}

describe('code exchange', () => {
  it('posts a form body with the code and redirect_uri, authenticating the client with HTTP Basic only', async () => {
    let body = '';
    let contentType: string | undefined;
    const token = nock('https://bitbucket.org')
      .post('/site/oauth2/access_token', (b: string | Record<string, unknown>) => {
        body = typeof b === 'string' ? b : new URLSearchParams(b as Record<string, string>).toString();
        return true;
      })
      .matchHeader('authorization', BASIC)
      .reply(function reply() {
        contentType = String(this.req.headers['content-type']);
        return [200, tokenBody(), { 'Content-Type': 'application/json' }];
      });
    mockApi();
    const { strategy, seen } = capturing();
    const { outcome } = await signIn(strategy, 'the-code');
    expectType(outcome, 'success');
    token.done();
    expect(contentType).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: options.callbackURL,
      // PKCE is on by default.
      code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
    });
    expect(body).not.toContain(CLIENT_SECRET);
    expect(body).not.toContain(CLIENT_ID);
    expect(seen[0]?.accessToken).toBe(ACCESS_TOKEN);
    expect(seen[0]?.refreshToken).toBe(REFRESH_TOKEN);
  });

  it('sends the PKCE verifier that matches the challenge', async () => {
    let verifier: string | null = null;
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token', (b: Record<string, string>) => {
        verifier = new URLSearchParams(b).get('code_verifier');
        return true;
      })
      .reply(200, tokenBody());
    mockApi();
    const { outcome, authorizeURL } = await signIn(capturing().strategy);
    expectType(outcome, 'success');
    expect(authorizeURL.searchParams.get('code_challenge_method')).toBe('S256');
    expect(verifier).not.toBeNull();
    expect(createHash('sha256').update(verifier ?? '').digest('base64url')).toBe(authorizeURL.searchParams.get('code_challenge'));
  });

  it('sends no PKCE parameters with pkce: false', async () => {
    let form: URLSearchParams | undefined;
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token', (b: Record<string, string>) => {
        form = new URLSearchParams(b);
        return true;
      })
      .reply(200, tokenBody());
    mockApi();
    const { outcome, authorizeURL } = await signIn(capturing({ pkce: false }).strategy);
    expectType(outcome, 'success');
    expect(authorizeURL.searchParams.has('code_challenge')).toBe(false);
    expect(form?.has('code_verifier')).toBe(false);
  });

  it.each([
    ['scopes (before 2026)', { scopes: 'account email' }],
    ['scope (after 2026)', { scopes: undefined, scope: 'account email' }],
  ])('reads %s into params.scope', async (_label, extra) => {
    mockToken(tokenBody(extra));
    mockApi();
    const { strategy, seen } = capturing();
    expectType((await signIn(strategy)).outcome, 'success');
    expect(seen[0]?.params.scope).toBe('account email');
    expect(seen[0]?.params.expires_in).toBe(7200);
    // The tokens are arguments of their own: params holds neither.
    expect(seen[0]?.params).not.toHaveProperty('refresh_token');
    expect(seen[0]?.params).not.toHaveProperty('access_token');
    expect(JSON.stringify(seen[0]?.params)).not.toContain(ACCESS_TOKEN);
  });

  it('passes Bitbucket\'s token errors through as passport-oauth2 TokenErrors', async () => {
    mockToken(JSON.parse(fixture('error-token.json')) as unknown, 400);
    const outcome = expectType((await signIn(capturing().strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(TokenError);
    expect(outcome.error).toMatchObject({
      code: 'unauthorized_client',
      message: 'Invalid OAuth client credentials',
      status: 400,
    });
    expectNoSecrets(outcome.error);
  });

  it('reports an HTML error page from the token endpoint as a BitbucketAPIError without quoting it', async () => {
    nock('https://bitbucket.org').post('/site/oauth2/access_token').reply(502, '<html><body>Bad gateway</body></html>', {
      'Content-Type': 'text/html',
    });
    const outcome = expectType((await signIn(capturing().strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(BitbucketAPIError);
    const error = outcome.error as BitbucketAPIError;
    expect(error.status).toBe(502);
    expect(error.message).toBe('Exchanging the authorization code failed: Bitbucket answered 502');
    expect(error.oauthError).toEqual({ statusCode: 502, data: '<html><body>Bad gateway</body></html>' });
    expect(String(error)).toBe('BitbucketAPIError: Exchanging the authorization code failed: Bitbucket answered 502');
  });

  it('fails the login cleanly when the access token would break the Authorization header', async () => {
    const token = `${ACCESS_TOKEN}\r\nX-Injected: yes`;
    mockToken(tokenBody({ access_token: token }));
    const api = nock('https://api.bitbucket.org').get(/.*/).times(2).reply(200, '{}');
    const outcome = expectType((await signIn(capturing().strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(BitbucketResponseError);
    expect((outcome.error as Error).message).toBe("Exchanging the authorization code: Bitbucket's token response has an access_token with characters that cannot be sent in a header");
    expect(api.isDone()).toBe(false);
    expectNoSecrets(outcome.error);
    nock.cleanAll();
  });

  it.each([
    ['a body that is not JSON', 'access_token=abc&token_type=bearer', /not a JSON object/],
    ['a JSON array', '[]', /not a JSON object/],
    ['no access_token', JSON.stringify({ token_type: 'bearer' }), /has no access_token/],
    ['an empty access_token', JSON.stringify({ access_token: '' }), /has no access_token/],
  ])('rejects a 200 token response with %s', async (_label, body, message) => {
    nock('https://bitbucket.org').post('/site/oauth2/access_token').reply(200, body);
    const outcome = expectType((await signIn(capturing().strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(BitbucketResponseError);
    expect((outcome.error as Error).message).toMatch(message);
  });

  it('sends the User-Agent and custom headers, and never the Basic credentials to the API', async () => {
    const seenHeaders: Record<string, unknown>[] = [];
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token')
      .reply(function reply() {
        seenHeaders.push({ ...this.req.headers });
        return [200, tokenBody()];
      });
    nock('https://api.bitbucket.org')
      .get('/2.0/user')
      .reply(function reply() {
        seenHeaders.push({ ...this.req.headers });
        return [200, fixture('user.json')];
      })
      .get('/2.0/user/emails')
      .query(true)
      .reply(function reply() {
        seenHeaders.push({ ...this.req.headers });
        return [200, fixture('emails.json')];
      });
    const { strategy } = capturing({ userAgent: 'my-app/2.0', customHeaders: { 'X-Trace': 't-1' } });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(seenHeaders).toHaveLength(3);
    for (const headers of seenHeaders) {
      expect(headers['user-agent']).toBe('my-app/2.0');
      expect(headers['x-trace']).toBe('t-1');
    }
    expect(seenHeaders[0]?.['authorization']).toBe(BASIC);
    expect(seenHeaders[1]?.['authorization']).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(seenHeaders[2]?.['authorization']).toBe(`Bearer ${ACCESS_TOKEN}`);
  });

  it('uses a default User-Agent naming the package, unless customHeaders name one', async () => {
    const agents: unknown[] = [];
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token')
      .times(2)
      .reply(function reply() {
        agents.push(this.req.headers['user-agent']);
        return [400, { error: 'invalid_grant' }];
      });
    await signIn(capturing().strategy);
    await signIn(capturing({ customHeaders: { 'user-agent': 'acme-portal/1.0' } }).strategy);
    expect(agents).toEqual([expect.stringMatching(/^passport-bitbucket-auth\/\d+\.\d+\.\d+/), 'acme-portal/1.0']);
  });
});

describe('refreshing tokens', () => {
  function refreshEndpoint(newRefresh: string, seen: string[]): nock.Scope {
    return nock('https://bitbucket.org')
      .post('/site/oauth2/access_token', (b: Record<string, string>) => {
        seen.push(new URLSearchParams(b).toString());
        return true;
      })
      .matchHeader('authorization', BASIC)
      .reply(200, { access_token: 'new-access', refresh_token: newRefresh, scope: 'account email', expires_in: 7200 });
  }

  it('works through passport-oauth2-refresh, returns the rotated refresh token and never sends scope', async () => {
    const seen: string[] = [];
    refreshEndpoint('rotated-1', seen);
    const strategy = capturing().strategy;
    refresh.use(strategy);
    const result = await new Promise<unknown[]>((resolve) => {
      refresh.requestNewAccessToken('bitbucket', REFRESH_TOKEN, { scope: 'account' }, (...args: unknown[]) => resolve(args));
    });
    expect(result[0]).toBeNull();
    expect(result[1]).toBe('new-access');
    expect(result[2]).toBe('rotated-1');
    expect(Object.fromEntries(new URLSearchParams(seen[0]))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: REFRESH_TOKEN,
    });
  });

  it('works from a client rebuilt with strategy._oauth2.constructor and the strategy\'s fields', async () => {
    const seen: string[] = [];
    refreshEndpoint('rotated-2', seen);
    const strategy = capturing().strategy as unknown as { _oauth2: Record<string, unknown> & { constructor: new (...a: unknown[]) => { getOAuthAccessToken: (...a: unknown[]) => void } } };
    const o = strategy._oauth2;
    const OAuth2 = o.constructor;
    const client = new OAuth2(o['_clientId'], o['_clientSecret'], o['_baseSite'], o['_authorizeUrl'], o['_accessTokenUrl'], o['_customHeaders']);
    const result = await new Promise<unknown[]>((resolve) => {
      client.getOAuthAccessToken(REFRESH_TOKEN, { grant_type: 'refresh_token', scope: 'x' }, (...args: unknown[]) => resolve(args));
    });
    expect(result.slice(0, 3)).toEqual([null, 'new-access', 'rotated-2']);
    expect(new URLSearchParams(seen[0]).has('scope')).toBe(false);
    expect(new URLSearchParams(seen[0]).has('client_secret')).toBe(false);
    expectNoSecrets(client);
  });

  it('supports the two-argument form and a missing grant_type', async () => {
    let form = '';
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token', (b: Record<string, string>) => {
        form = new URLSearchParams(b).toString();
        return true;
      })
      .reply(200, tokenBody());
    const o = (capturing().strategy as unknown as { _oauth2: { getOAuthAccessToken: (...a: unknown[]) => void } })._oauth2;
    const result = await new Promise<unknown[]>((resolve) => o.getOAuthAccessToken('code-1', (...args: unknown[]) => resolve(args)));
    expect(result[1]).toBe(ACCESS_TOKEN);
    expect(Object.fromEntries(new URLSearchParams(form))).toEqual({ grant_type: 'authorization_code', code: 'code-1' });
    expect(() => o.getOAuthAccessToken('code-1', {})).toThrow(/callback/);
  });
});
