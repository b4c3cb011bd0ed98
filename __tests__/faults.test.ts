import { Agent } from 'node:http';
import { TokenError } from 'passport-oauth2';
import {
  BitbucketAPIError,
  BitbucketNetworkError,
  BitbucketResponseError,
  BitbucketTimeoutError,
  Strategy,
  type Profile,
} from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator, type EmulatorEndpoint, type EmulatorFault } from '../lib/testing';
import { expectType, run, fakeRequest, type Outcome } from './helpers/passport';
import { until } from './helpers/wait';

// Long enough for the healthy loopback requests of a login on a busy machine, and for the login
// deadline (3 × TIMEOUT) to hold a 5xx's two retries (pauses of up to 150 and 300 ms) whatever the
// jitter draws; short enough that the stall and drip cases (each waits that deadline) stay cheap.
const TIMEOUT = 300;
const CALLBACK = 'https://app.example.com/auth/bitbucket/callback';

type Expectation = { outcome: 'error'; type: Function; code?: string } | { outcome: 'success'; emails: number };
const apiError: Expectation = { outcome: 'error', type: BitbucketAPIError, code: 'BITBUCKET_API_ERROR' };

const FAULTS: Array<[string, EmulatorFault, Expectation]> = [
  ['500', { kind: 'status', status: 500 }, apiError],
  ['502', { kind: 'status', status: 502 }, apiError],
  ['503', { kind: 'status', status: 503 }, apiError],
  ['401', { kind: 'status', status: 401, body: '{"type":"error","error":{"message":"Access token expired."}}' }, apiError],
  ['403', { kind: 'status', status: 403, body: '{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes.","detail":{"required":["email"],"granted":["account"]}}}' }, apiError],
  ['429 text/plain', { kind: 'status', status: 429, body: 'Rate limit for this resource has been exceeded', contentType: 'text/plain' }, apiError],
  ['an HTML body', { kind: 'status', status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>', contentType: 'text/html' }, apiError],
  ['truncated JSON', { kind: 'truncate' }, { outcome: 'error', type: BitbucketResponseError, code: 'BITBUCKET_INVALID_RESPONSE' }],
  ['a reset mid-body', { kind: 'reset' }, { outcome: 'error', type: BitbucketNetworkError, code: 'BITBUCKET_NETWORK_ERROR' }],
  ['a stall', { kind: 'stall' }, { outcome: 'error', type: BitbucketTimeoutError, code: 'BITBUCKET_TIMEOUT' }],
  ['a slow drip', { kind: 'drip', intervalMs: 20 }, { outcome: 'error', type: BitbucketTimeoutError, code: 'BITBUCKET_TIMEOUT' }],
  ['a body over the cap', { kind: 'oversize' }, { outcome: 'error', type: BitbucketResponseError, code: 'BITBUCKET_RESPONSE_TOO_LARGE' }],
];

/**
 * What README's errors table promises where an endpoint differs from the general rule. (On the
 * token endpoint these bodies carry no OAuth `error` code, so they are API errors, not
 * TokenErrors.)
 */
function expected(endpoint: EmulatorEndpoint, name: string, general: Expectation): Expectation {
  if (endpoint === 'emails' && name === '403') return { outcome: 'success', emails: 0 }; // no Email permission: sign in anyway
  return general;
}

let bitbucket: BitbucketEmulator;
let agent: Agent;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  bitbucket = await startBitbucketEmulator({ callbackURL: CALLBACK });
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await bitbucket.close();
});
beforeEach(() => {
  agent = new Agent({ keepAlive: true });
});
afterEach(() => {
  for (const endpoint of ['token', 'user', 'emails'] as const) bitbucket.setFault(endpoint, undefined);
  agent.destroy();
});

async function login(): Promise<{ outcome: Outcome; profiles: Profile[]; ms: number }> {
  const profiles: Profile[] = [];
  const strategy = new Strategy({ ...bitbucket.strategyOptions, callbackURL: CALLBACK, timeout: TIMEOUT }, (_a, _r, profile, done) => {
    profiles.push(profile);
    done(null, { id: profile.id });
  });
  (strategy as unknown as { _oauth2: { setAgent(agent: Agent): void } })._oauth2.setAgent(agent);
  const session: Record<string, unknown> = {};
  const redirect = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
  const state = new URL(redirect.url).searchParams.get('state')!;
  const code = new URL(bitbucket.authorize('ada-lovelace', { redirect_uri: CALLBACK, state })).searchParams.get('code')!;
  const started = Date.now();
  const outcome = await run(strategy, fakeRequest({ code, state }, session));
  return { outcome, profiles, ms: Date.now() - started };
}

describe.each(['token', 'user', 'emails'] as const)('a fault on the %s endpoint', (endpoint) => {
  it.each(FAULTS)('%s gives its documented outcome in time, and leaves nothing behind', async (name, fault, general) => {
    bitbucket.setFault(endpoint, fault);
    const want = expected(endpoint, name, general);
    const { outcome, profiles, ms } = await login();
    // Never longer than the timeout plus a margin: nothing hangs.
    expect(ms).toBeLessThan(TIMEOUT + 1500);
    if (want.outcome === 'success') {
      expectType(outcome, 'success');
      expect(profiles[0]?.emails).toHaveLength(want.emails);
    } else {
      const { error } = expectType(outcome, 'error');
      expect(error).toBeInstanceOf(want.type);
      expect(error).not.toBeInstanceOf(TokenError);
      expect(error).toMatchObject({ code: want.code });
      expect(profiles).toHaveLength(0);
      // The token exchange is sent once; a stalled GET is tried again until the login's deadline.
      if (want.type === BitbucketTimeoutError && endpoint === 'token') expect(error).toMatchObject({ limit: 'request', timeout: TIMEOUT });
      if (want.type === BitbucketTimeoutError && endpoint !== 'token') expect(error).toMatchObject({ limit: 'login', timeout: 3 * TIMEOUT });
      if (name.startsWith('429')) expect((error as Error).message).toContain('Rate limit for this resource has been exceeded');
      if (name === 'an HTML body') expect((error as Error).message).not.toContain('<html>');
    }
    // No request is still holding a socket, on either side.
    const idle = (): number => Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    await until(
      () => Object.keys(agent.sockets).length === 0 && bitbucket.connections() <= idle(),
      'every request to release its socket, on both sides',
    );
    expect(unhandled).toEqual([]);
  });
});

it('a token endpoint OAuth error body is a TokenError', async () => {
  bitbucket.setFault('token', { kind: 'status', status: 400, body: '{"error":"invalid_grant","error_description":"gone"}' });
  const { outcome } = await login();
  expect(expectType(outcome, 'error').error).toBeInstanceOf(TokenError);
});
