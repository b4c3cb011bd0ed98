import type { Request } from 'express';
import type { Strategy as PassportStrategy } from 'passport';

/** Any Passport strategy: the Cloud one, the Data Center one. */
type Strategy = PassportStrategy;

/** How one call of `strategy.authenticate()` ended, as Passport's middleware would see it. */
export type Outcome =
  | { type: 'success'; user: unknown; info: unknown }
  | { type: 'fail'; challenge: unknown; status: number | undefined }
  | { type: 'error'; error: unknown }
  | { type: 'redirect'; url: string; status: number | undefined }
  | { type: 'pass' };

export interface FakeRequest {
  query: Record<string, string>;
  session: Record<string, unknown>;
  headers: Record<string, string>;
  url: string;
  method: string;
  connection: { encrypted: boolean };
  [key: string]: unknown;
}

export function fakeRequest(query: Record<string, string> = {}, session: Record<string, unknown> = {}): FakeRequest {
  return {
    query,
    session,
    headers: { host: 'app.example.com' },
    url: '/auth/bitbucket/callback',
    method: 'GET',
    connection: { encrypted: true },
  };
}

/** Runs `authenticate` with the actions Passport would attach, and resolves with the first. */
export function run(
  strategy: Strategy,
  req: FakeRequest,
  options: Record<string, unknown> = {},
  log: string[] = [],
): Promise<Outcome> {
  return new Promise<Outcome>((settle) => {
    const resolve = (outcome: Outcome): void => {
      log.push(outcome.type);
      settle(outcome);
    };
    const actions = Object.create(strategy) as PassportStrategy & Record<string, unknown>;
    actions['success'] = (user: unknown, info: unknown) => resolve({ type: 'success', user, info });
    actions['fail'] = (challenge: unknown, status?: number) => {
      if (typeof challenge === 'number') resolve({ type: 'fail', challenge: undefined, status: challenge });
      else resolve({ type: 'fail', challenge, status });
    };
    actions['error'] = (error: unknown) => resolve({ type: 'error', error });
    actions['redirect'] = (url: string, status?: number) => resolve({ type: 'redirect', url, status });
    actions['pass'] = () => resolve({ type: 'pass' });
    (actions.authenticate as (this: unknown, req: Request, options?: object) => void).call(actions, req as unknown as Request, options);
  });
}

/**
 * The whole login as a browser would do it: the authorize redirect (which stores `state` in
 * the session), then the callback with a code and that state.
 */
export async function signIn(
  strategy: Strategy,
  code = 'the-code',
  options: Record<string, unknown> = {},
  log: string[] = [],
): Promise<{ outcome: Outcome; authorizeURL: URL; session: Record<string, unknown> }> {
  const session: Record<string, unknown> = {};
  const first = await run(strategy, fakeRequest({}, session), options);
  if (first.type !== 'redirect') throw new Error(`expected a redirect, got ${first.type}`);
  const authorizeURL = new URL(first.url);
  const query: Record<string, string> = { code };
  const state = authorizeURL.searchParams.get('state');
  if (state) query['state'] = state;
  const outcome = await run(strategy, fakeRequest(query, session), options, log);
  return { outcome, authorizeURL, session };
}

export function expectType<T extends Outcome['type']>(outcome: Outcome, type: T): Extract<Outcome, { type: T }> {
  if (outcome.type !== type) {
    const detail = outcome.type === 'error' ? `: ${String(outcome.error)}` : '';
    throw new Error(`expected ${type}, got ${outcome.type}${detail}`);
  }
  return outcome as Extract<Outcome, { type: T }>;
}
