import { Strategy } from '../lib';
import { options } from './helpers/bitbucket';
import { expectType, fakeRequest, run, type FakeRequest } from './helpers/passport';
import { nock } from './helpers/nock';

const strategy = (): Strategy => new Strategy(options, () => undefined);
const withQuery = (query: Record<string, unknown>, session: Record<string, unknown> = {}): FakeRequest => {
  const req = fakeRequest({}, session);
  req.query = query as Record<string, string>;
  return req;
};

describe('hostile callbacks', () => {
  it.each([
    ['a repeated code', { code: ['a', 'b'], state: 's' }],
    ['a state object', { code: 'a', state: { $ne: '' } }],
    ['a repeated error', { error: ['access_denied', 'x'] }],
    ['an error_description object', { error: 'access_denied', error_description: { a: 1 } }],
  ])('fails cleanly with 400 on %s, without calling Bitbucket', async (_label, query) => {
    const scope = nock('https://bitbucket.org').post(/.*/).reply(200, {});
    const outcome = expectType(await run(strategy(), withQuery(query, { 'oauth2:bitbucket.org': { state: 's' } })), 'fail');
    expect(outcome.status).toBe(400);
    expect(outcome.challenge).toEqual({ message: 'Malformed authorization response from Bitbucket.' });
    expect(scope.isDone()).toBe(false);
  });

  it('ignores unrelated query parameters of any shape', async () => {
    const outcome = await run(strategy(), withQuery({ utm: ['a', 'b'], nested: { deep: 1 } }));
    expect(expectType(outcome, 'redirect').url).toContain('response_type=code');
  });

  it('does not let a callback without a query crash the strategy', async () => {
    const req = fakeRequest();
    delete (req as Partial<FakeRequest>).query;
    expect((await run(strategy(), req)).type).toBe('redirect');
  });
});
