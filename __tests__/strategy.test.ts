import { inspect } from 'node:util';
import { createHash } from 'node:crypto';
import { Strategy, type StrategyOptions } from '../lib';
import { CLIENT_SECRET, options } from './helpers/bitbucket';
import { expectType, fakeRequest, run } from './helpers/passport';

const verify = (): void => undefined;
const make = (extra: Record<string, unknown> = {}): Strategy =>
  new Strategy({ ...options, ...extra } as StrategyOptions, verify);

describe('Strategy construction', () => {
  it.each([
    ['clientId', 'clientID'],
    ['ClientID', 'clientID'],
    ['client_id', 'clientID'],
    ['callbackUrl', 'callbackURL'],
    ['callback_url', 'callbackURL'],
    ['clientSecretKey', 'clientSecret'],
    ['scopes', 'scope'],
    ['userProfileUrl', 'userProfileURL'],
    ['skipEmail', 'skipEmails'],
  ])('names the option meant for the typo %s', (typo, meant) => {
    const attempt = (): Strategy => make({ [typo]: 'x' });
    expect(attempt).toThrow(TypeError);
    expect(attempt).toThrow(`passport-bitbucket-auth: options.${typo} is not an option: did you mean ${meant}?`);
  });

  it('refuses a name it cannot tie to an option, naming the strategy', () => {
    expect(() => make({ timout: 5000 })).toThrow(new TypeError('passport-bitbucket-auth: options.timout is not an option of BitbucketStrategy'));
  });

  it('accepts undefined for every optional option (exactOptionalPropertyTypes apps pass process.env values)', () => {
    const env: Record<string, string | undefined> = {};
    expect(() => make({ callbackURL: env['CALLBACK_URL'], timeout: undefined, scope: undefined, workspaces: undefined, pkce: undefined })).not.toThrow();
  });

  it.each([
    ['clientID', 'Key'],
    ['clientSecret', 'Secret'],
  ])('rejects a missing or empty %s, naming where Bitbucket shows it', (key, label) => {
    for (const value of [undefined, '', '   ', 42]) {
      const attempt = (): Strategy => make({ [key]: value });
      expect(attempt).toThrow(TypeError);
      expect(attempt).toThrow(new RegExp(`options\\.${key} is required.*${label} of your Bitbucket OAuth consumer`));
    }
  });

  it('rejects options that are not an object and a missing verify function', () => {
    expect(() => new Strategy(null as unknown as StrategyOptions, verify)).toThrow(TypeError);
    expect(() => new Strategy(options, undefined as unknown as typeof verify)).toThrow(/verify function is required/);
  });

  it.each<[string, unknown, RegExp]>([
    ['timeout', '10', /options\.timeout must be a number/],
    ['timeout', 0, /options\.timeout must be a whole number/],
    ['timeout', 1.5, /options\.timeout must be a whole number/],
    ['timeout', 2 ** 31, /options\.timeout must be a whole number/],
    ['state', 'yes', /options\.state must be true or false/],
    ['skipEmails', 1, /options\.skipEmails must be true or false/],
    ['includeUnverifiedEmails', 'no', /options\.includeUnverifiedEmails/],
    ['passReqToCallback', 'true', /options\.passReqToCallback/],
    ['proxy', {}, /options\.proxy/],
    ['pkce', 'S512', /options\.pkce/],
    ['callbackURL', 42, /options\.callbackURL must be a string/],
    ['scope', [1], /options\.scope must be a string or an array of strings/],
    ['skipUserProfile', 'yes', /options\.skipUserProfile/],
    ['store', {}, /options\.store must be an object with store\(\) and verify\(\)/],
    // Node's client would take it, but the strategy's requests would not go through it.
    ['agent', { addRequest: () => undefined }, /options\.agent must be an http\.Agent or https\.Agent/],
    ['userAgent', '', /options\.userAgent/],
    ['customHeaders', { 'X-A': {} }, /options\.customHeaders/],
    ['customHeaders', 'X-A: 1', /options\.customHeaders/],
    ['tokenURL', 'not a url', /options\.tokenURL must be an absolute http\(s\) URL/],
    ['authorizationURL', 'ftp://bitbucket.org/x', /options\.authorizationURL/],
    ['userProfileURL', 'https://user:pass@api.bitbucket.org/2.0/user', /options\.userProfileURL .*without credentials/],
    ['userEmailsURL', 7, /options\.userEmailsURL/],
  ])('rejects %s = %p with a clear error', (key, value, message) => {
    expect(() => make({ [key]: value })).toThrow(message);
  });

  it('throws RangeError for a timeout out of range and never echoes option values', () => {
    expect(() => make({ timeout: -5 })).toThrow(RangeError);
    try {
      make({ tokenURL: `${CLIENT_SECRET} oops` });
    } catch (error) {
      expect(String(error)).not.toContain(CLIENT_SECRET);
    }
    expect.assertions(2);
  });

  it('does not change the caller\'s options object', () => {
    const given = { ...options, customHeaders: { 'X-Trace': '1' }, scope: ['account'] };
    const snapshot = JSON.parse(JSON.stringify(given)) as unknown;
    const frozen = Object.freeze({ ...given, customHeaders: Object.freeze({ ...given.customHeaders }) });
    new Strategy(given, verify);
    expect(() => new Strategy(frozen, verify)).not.toThrow();
    expect(given).toEqual(snapshot);
  });

  it('keeps the client secret off every own, enumerable or inspectable property', () => {
    const strategy = make();
    expect(inspect(strategy, { depth: 20, showHidden: true })).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(strategy)).not.toContain(CLIENT_SECRET);
    expect(Object.values(strategy).some((v) => v === CLIENT_SECRET)).toBe(false);
  });

  it('accepts a pkce method string and a custom store that can keep a verifier', () => {
    const keeps = { store: (_req: unknown, _verifier: unknown, _state: unknown, _meta: unknown, cb: () => void) => cb(), verify: jest.fn() };
    expect(() => make({ pkce: 'S256' })).not.toThrow();
    expect(() => make({ pkce: 'plain' })).not.toThrow();
    expect(() => make({ store: keeps })).not.toThrow();
    expect(() => make({ pkce: true, state: false })).toThrow(/pkce needs somewhere to keep the verifier/);
    // state: false without a store turns the default PKCE off instead of failing.
    expect(() => make({ state: false })).not.toThrow();
  });

  it('refuses, at construction, a custom store that cannot keep a PKCE verifier, unless pkce is off', () => {
    const old = { store: (_req: unknown, _meta: unknown, cb: () => void) => cb(), verify: jest.fn() };
    expect(() => make({ store: old })).toThrow(/options\.store cannot keep a PKCE verifier: its store\(\) must take \(req, verifier, state, meta, callback\)/);
    expect(() => make({ store: old, pkce: false })).not.toThrow();
  });
});

describe('Strategy authorization request', () => {
  it('redirects to Bitbucket with client_id, response_type, redirect_uri and a state kept in the session', async () => {
    const session: Record<string, unknown> = {};
    const outcome = expectType(await run(make(), fakeRequest({}, session)), 'redirect');
    const url = new URL(outcome.url);
    expect(`${url.origin}${url.pathname}`).toBe('https://bitbucket.org/site/oauth2/authorize');
    expect(url.searchParams.get('client_id')).toBe(options.clientID);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('redirect_uri')).toBe(options.callbackURL);
    const state = url.searchParams.get('state');
    expect(state).toMatch(/^\S{16,}$/);
    // With the PKCE verifier that matches the S256 challenge, on by default.
    const kept = session['oauth2:bitbucket.org'] as { state: { handle: string; code_verifier: string } };
    expect(kept.state.handle).toBe(state);
    expect(createHash('sha256').update(kept.state.code_verifier).digest('base64url')).toBe(url.searchParams.get('code_challenge'));
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.has('scope')).toBe(false);
    expect(outcome.url).not.toContain(CLIENT_SECRET);
  });

  it('sends scope only when given, and no state when state is off', async () => {
    const withScope = expectType(await run(make({ scope: ['account', 'email'], state: false }), fakeRequest()), 'redirect');
    const url = new URL(withScope.url);
    expect(url.searchParams.get('scope')).toBe('account email');
    expect(url.searchParams.has('state')).toBe(false);
  });
});

describe('Strategy callback before the token', () => {
  it('fails with 403 on a forged state, without calling Bitbucket', async () => {
    const session = { 'oauth2:bitbucket.org': { state: 'the-real-state' } };
    const outcome = expectType(await run(make(), fakeRequest({ code: 'c', state: 'forged' }, session)), 'fail');
    expect(outcome.status).toBe(403);
    expect(outcome.challenge).toEqual({ message: expect.stringMatching(/state/i) as unknown });
  });
});
