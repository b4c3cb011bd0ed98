import { parseProfile, orderEmails, parseEmailsPage, type RawEmail } from '../lib/cloud/profile';
import { fixture } from './helpers/bitbucket';

describe('parseProfile', () => {
  it('keeps the uuid with its braces as id, and the raw body', () => {
    const profile = parseProfile(fixture('user.json'));
    expect(profile.id).toBe('{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}');
    expect(profile._raw).toBe(fixture('user.json'));
    expect(profile.emails).toEqual([]);
  });

  it('leaves username out when Bitbucket does not send it, and falls back for displayName', () => {
    const profile = parseProfile(JSON.stringify({ type: 'user', uuid: '{u}', nickname: 'nick', username: null, links: { avatar: { href: '' } } }));
    expect(profile).not.toHaveProperty('username');
    expect(profile.displayName).toBe('nick');
    expect(profile.photos).toEqual([]);
    expect(profile.profileUrl).toBeUndefined();
    expect(profile.accountId).toBeUndefined();
  });

  it('falls back from nickname to username to an empty displayName', () => {
    expect(parseProfile(JSON.stringify({ type: 'user', uuid: '{u}', username: 'user' })).displayName).toBe('user');
    expect(parseProfile(JSON.stringify({ type: 'user', uuid: '{u}' })).displayName).toBe('');
  });

  it.each([
    ['links not an object', { links: 'x' }],
    ['a link not an object', { links: { avatar: 5 } }],
    ['href not a string', { links: { avatar: { href: 5 } } }],
  ])('ignores %s', (_label, extra) => {
    expect(parseProfile(JSON.stringify({ type: 'user', uuid: '{u}', ...extra })).photos).toEqual([]);
  });

  it.each([['null'], ['"text"'], ['42'], ['{"type": "user", "uuid": ""}']])('rejects %s', (body) => {
    expect(() => parseProfile(body)).toThrow(/Failed to parse user profile/);
  });

  it.each([
    ['a workspace', { type: 'workspace', uuid: '{w}', slug: 'acme' }],
    ['a team', { type: 'team', uuid: '{t}' }],
    ['an account that does not say what it is', { uuid: '{u}', display_name: 'Ada' }],
  ])('rejects %s: only a user signs in', (_label, body) => {
    expect(() => parseProfile(JSON.stringify(body))).toThrow(/the answer is not a user/);
  });
});

describe('parseEmailsPage', () => {
  it('reads the fixture page', () => {
    expect(parseEmailsPage(fixture('emails.json'))).toEqual({
      values: [{ email: 'ada@example.com', isPrimary: true, isConfirmed: true }],
      next: undefined,
    });
  });

  it('counts only a literal true as primary or confirmed', () => {
    const page = parseEmailsPage(JSON.stringify({ values: [{ email: 'a@x', is_primary: 'true', is_confirmed: 1 }], next: null }));
    expect(page.values[0]).toEqual({ email: 'a@x', isPrimary: false, isConfirmed: false });
    expect(page.next).toBeUndefined();
  });

  it.each([
    ['not JSON', '<html>', /did not answer JSON/],
    ['no values', '{}', /no values list/],
    ['values not a list', '{"values": {}}', /no values list/],
    ['an entry without email', '{"values": [{"is_primary": true}]}', /no email address/],
    ['an entry that is not an object', '{"values": ["a@x"]}', /no email address/],
    ['a next that is not a string', '{"values": [], "next": 2}', /next link is not a string/],
  ])('rejects a page with %s', (_label, body, message) => {
    expect(() => parseEmailsPage(body)).toThrow(message);
  });
});

describe('orderEmails', () => {
  const e = (email: string, isPrimary: boolean, isConfirmed: boolean): RawEmail => ({ email, isPrimary, isConfirmed });

  it('puts the confirmed primary first, keeps Bitbucket\'s order otherwise, and drops duplicates', () => {
    const raw = [e('b@x', false, true), e('A@x', true, true), e('c@x', false, true), e('a@X', false, true)];
    expect(orderEmails(raw, false).map((m) => m.value)).toEqual(['A@x', 'b@x', 'c@x']);
  });

  it('never puts an unconfirmed primary ahead of anything else', () => {
    const raw = [e('p@x', true, false), e('u@x', false, false), e('c@x', false, true)];
    expect(orderEmails(raw, false)).toEqual([{ value: 'c@x', primary: false, verified: true }]);
    expect(orderEmails(raw, true).map((m) => [m.value, m.primary, m.verified])).toEqual([
      ['c@x', false, true],
      ['u@x', false, false],
      ['p@x', true, false],
    ]);
  });

  it('prefers the confirmed copy of an address listed twice', () => {
    const raw = [e('a@x', false, false), e('a@x', false, true)];
    expect(orderEmails(raw, true)).toEqual([{ value: 'a@x', primary: false, verified: true }]);
  });
});
