import nock from 'nock';
import { ACCESS_TOKEN, BASIC, fixture, tokenBody } from './bitbucket';

// Importing nock patches node:http for every file this jest worker runs, not just this one.
// Undo that at once, and intercept only while this file's tests run: beforeAll and afterAll
// run together or not at all (a file whose tests are all skipped runs neither), so no
// interception outlives the file that asked for it.
nock.restore();

beforeAll(() => {
  nock.activate();
  // Only the hosts a test mocks, and servers the tests start on loopback.
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});

export { nock };

/** Bitbucket's token endpoint answering a code exchange with the fixture's tokens. */
export function mockToken(body: unknown = tokenBody(), status = 200): nock.Scope {
  return nock('https://bitbucket.org')
    .post('/site/oauth2/access_token')
    .matchHeader('authorization', BASIC)
    .reply(status, body as nock.Body, { 'Content-Type': 'application/json' });
}

/** `/2.0/user` and `/2.0/user/emails`, answered with the fixtures unless told otherwise. */
export function mockApi(
  user: { status?: number; body?: string } = {},
  emails: { status?: number; body?: string } | null = {},
): nock.Scope {
  const scope = nock('https://api.bitbucket.org')
    .get('/2.0/user')
    .matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`)
    .reply(user.status ?? 200, user.body ?? fixture('user.json'), { 'Content-Type': 'application/json' });
  if (emails) {
    scope
      .get('/2.0/user/emails')
      .query({ pagelen: '100' })
      .matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`)
      .reply(emails.status ?? 200, emails.body ?? fixture('emails.json'), { 'Content-Type': 'application/json' });
  }
  return scope;
}

