/** The small pure pieces, each on its edge cases: parsers, redaction, the connection pool. */
import { BitbucketAPIError, BitbucketDataCenterStrategy, type DataCenterStrategyOptions } from '../lib';
import type { HttpResponse } from '../lib/core/http';
import { apiError, BitbucketError, redact, REDACTED } from '../lib/core/errors';
import { findUser, parseDataCenterUser, userJson } from '../lib/datacenter/strategy';
import { mergeWorkspaces, parsePermission, parseWorkspacesPage, workspaceRefusal } from '../lib/cloud/profile';

describe('workspace parsers', () => {
  it('read a permission with nothing but the slug as no role, which no gate lets through, not an administrator', () => {
    const bare = parsePermission(JSON.stringify({ workspace: { slug: 'w' } }));
    expect(bare).toEqual({ slug: 'w', uuid: '', administrator: false });
    expect(workspaceRefusal([bare], ['W'], 'member')).toBe('Bitbucket reported no role in workspace w.');
    expect(workspaceRefusal([bare], ['w'], 'create-project')).toBe('Bitbucket reported no role in workspace w.');
    expect(workspaceRefusal([{ ...bare, permission: 'member' }], ['w'], 'member')).toBeUndefined();
    expect(() => parsePermission('not json')).toThrow(/no workspace slug/);
  });

  it('keep a listed name, and merge the checked role over the listing', () => {
    const page = parseWorkspacesPage(JSON.stringify({ values: [{ administrator: true, workspace: { slug: 'a', name: 'A' } }] }));
    expect(page.values).toEqual([{ slug: 'a', uuid: '', name: 'A', administrator: true }]);
    expect(mergeWorkspaces(page.values, [{ slug: 'A', uuid: '{a}', permission: 'member', administrator: false }])).toEqual([
      { slug: 'A', uuid: '{a}', name: 'A', permission: 'member', administrator: true },
    ]);
  });
});

describe('BitbucketError', () => {
  it('keeps a body without a status as status 0, and no oauthError without a body', () => {
    expect(new BitbucketError('m', 'BITBUCKET_API_ERROR', { body: 'b' }).oauthError).toEqual({ statusCode: 0, data: 'b' });
    expect(new BitbucketError('m', 'BITBUCKET_API_ERROR').oauthError).toBeUndefined();
    expect(String(new BitbucketError('m', 'BITBUCKET_TIMEOUT'))).toBe('BitbucketError: m');
  });
});

describe('redact', () => {
  const SECRET = 'a-secret-0123456789';
  it('reaches nested objects, arrays and cycles, and leaves getters, frozen fields and short values alone', () => {
    const error = new Error(`failed with ${SECRET}`) as Error & Record<string, unknown>;
    const cycle: Record<string, unknown> = { list: [SECRET, { deep: encodeURIComponent(`${SECRET} x`) }] };
    cycle['self'] = cycle;
    error['detail'] = cycle;
    Object.defineProperty(error, 'computed', { get: () => 'computed', enumerable: true });
    Object.defineProperty(error, 'frozen', { value: `kept ${SECRET}`, writable: false, enumerable: true });
    redact(error, [SECRET, 'short', undefined]);
    expect(error.message).toBe(`failed with ${REDACTED}`);
    expect(cycle['list']).toEqual([REDACTED, { deep: `${REDACTED}%20x` }]);
    expect(error['computed']).toBe('computed');
    expect(error['frozen']).toBe(`kept ${SECRET}`);
    expect(redact('a short one', ['short'])).toBe('a short one');
    expect(redact(42, [SECRET])).toBe(42);
  });
});

describe('Data Center user parsing', () => {
  it('fills slug and displayName from the name, and has no page or photo without links and avatar', () => {
    const profile = parseDataCenterUser({ id: 5, name: 'x', active: true }, '{}', 'https://bb.example.com', false);
    expect(profile).toMatchObject({ id: '5', username: 'x', slug: 'x', displayName: 'x', profileUrl: undefined, photos: [], emails: [] });
  });

  it.each([
    ['a string id', { id: '5', name: 'x' }],
    ['no name', { id: 5 }],
    ['a fractional id', { id: 5.5, name: 'x' }],
  ])('refuses a user with %s', (_label, json) => {
    expect(() => parseDataCenterUser(json, '{}', 'https://bb.example.com', false)).toThrow(/no numeric id or no name/);
  });

  it.each([
    ['no active flag', { id: 5, name: 'x' }],
    ['active "false"', { id: 5, name: 'x', active: 'false' }],
    ['active null', { id: 5, name: 'x', active: null }],
    ['active 1', { id: 5, name: 'x', active: 1 }],
  ])('refuses a user with %s: only an account Bitbucket calls active may sign in', (_label, json) => {
    expect(() => parseDataCenterUser(json, '{}', 'https://bb.example.com', false)).toThrow(/whether the account is active/);
  });

  it('finds a user by exact name first, then by name in another case, else none', () => {
    const page = { values: [{ name: 'Ann', id: 1 }, { name: 'ann', id: 2 }, 'junk'] };
    expect(findUser(page, 'ann')?.['id']).toBe(2);
    expect(findUser(page, 'ANN')?.['id']).toBe(1);
    expect(findUser({ values: [] }, 'ann')).toBeUndefined();
    expect(findUser({}, 'ann')).toBeUndefined();
    expect(() => userJson('[]')).toThrow(/not a JSON object/);
  });
});

describe('apiError', () => {
  const response = (status: number, body: string, contentType = 'application/json'): HttpResponse =>
    ({ url: 'https://api.bitbucket.org/2.0/x?token=t', status, body, headers: { 'content-type': contentType } }) as HttpResponse;

  it('names the boxes a missing-scope 403 asks for, including ones it does not know', () => {
    const error = apiError('Fetching x', response(403, JSON.stringify({ error: { message: 'no', detail: { required: ['email', 'pipeline'] } } })), true);
    expect(error.message).toContain('tick the "Account: Email" and "pipeline" permission');
  });

  it.each([
    ['a 410 whose error is not an object', JSON.stringify({ error: 'gone' })],
    ['a 410 without a CHANGE notice', JSON.stringify({ error: { message: 'Gone' } })],
    ['a 410 that is not JSON', '<html>gone</html>'],
  ])('keeps %s a plain API error', (_label, body) => {
    const error = apiError('Fetching x', response(410, body));
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect(error.code).toBe('BITBUCKET_API_ERROR');
  });

  it.each([
    ['whole, up to 200 characters', `${'abcd '.repeat(39)}abcd`, `${'abcd '.repeat(39)}abcd`],
    ['to the last space, when longer', `${'abcd '.repeat(39)}abcdef more`, `${'abcd '.repeat(39).trim()}`],
    ['not at all, as one word longer than the cut', 'x'.repeat(201), undefined],
  ])('keeps Bitbucket\'s message %s', (_label, message, kept) => {
    const error = apiError('F', response(400, JSON.stringify({ error: { message } }))) as BitbucketAPIError;
    expect(error.bitbucketMessage).toBe(kept);
  });

  it('quotes Data Center\'s errors[0].message, and nothing from an empty errors list', () => {
    expect(apiError('F', response(500, JSON.stringify({ errors: [{ message: 'DC says no' }] }))).message).toBe('F failed: Bitbucket answered 500: DC says no');
    expect(apiError('F', response(500, JSON.stringify({ errors: [] }))).message).toBe('F failed: Bitbucket answered 500');
  });
});

describe('Data Center options, more', () => {
  const base = { clientID: 'id', clientSecret: 'secret' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a baseURL that is not a string', { baseURL: 42 }, /options\.baseURL is required/],
    ['an ftp baseURL', { baseURL: 'ftp://bb.example.com' }, /options\.baseURL is required/],
    ['more than 20 projects and repositories', { baseURL: 'https://bb.example.com', projects: Array.from({ length: 15 }, (_, i) => `P${i}`), repositories: Array.from({ length: 6 }, (_, i) => `P/r${i}`) }, /at most 20 together/],
  ])('rejects %s', (_label, extra, message) => {
    expect(() => new BitbucketDataCenterStrategy({ ...base, ...extra } as unknown as DataCenterStrategyOptions, () => undefined)).toThrow(message);
  });
});
