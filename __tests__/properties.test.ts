import fc from 'fast-check';
import { BitbucketResponseError } from '../lib';
import { parseProfile, parseEmailsPage, parsePermission, parseWorkspacesPage } from '../lib/cloud/profile';

const RUNS = { numRuns: 500 };

/** Arbitrary JSON, and JSON shaped like Bitbucket's answers with any field possibly wrong. */
const anyJson = fc.jsonValue();
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> => fc.oneof(arb, anyJson);
const userLike = fc.record(
  {
    uuid: maybe(fc.uuid().map((u) => `{${u}}`)),
    account_id: maybe(fc.string()),
    username: maybe(fc.string()),
    nickname: maybe(fc.string()),
    display_name: maybe(fc.string()),
    links: maybe(fc.record({ html: maybe(fc.record({ href: maybe(fc.webUrl()) })), avatar: maybe(fc.record({ href: maybe(fc.webUrl()) })) })),
  },
  { requiredKeys: [] },
);
const emailLike = fc.record({ email: maybe(fc.emailAddress()), is_primary: maybe(fc.boolean()), is_confirmed: maybe(fc.boolean()) }, { requiredKeys: [] });
const pageLike = fc.record({ values: maybe(fc.array(maybe(emailLike))), next: maybe(fc.option(fc.webUrl())) }, { requiredKeys: [] });

/** Runs a parser and accepts only a value or a BitbucketResponseError. */
function outcome<T>(parse: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    expect(error).toBeInstanceOf(BitbucketResponseError);
    return { ok: false };
  }
}

describe('parseProfile, for any input', () => {
  it('gives a valid profile or a BitbucketResponseError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, userLike), (json) => {
        const result = outcome(() => parseProfile(JSON.stringify(json) ?? 'undefined'));
        if (!result.ok) return;
        const profile = result.value;
        expect(profile.provider).toBe('bitbucket');
        expect(typeof profile.id).toBe('string');
        expect(profile.id).not.toBe('');
        expect(typeof profile.displayName).toBe('string');
        expect(Array.isArray(profile.photos)).toBe(true);
        for (const photo of profile.photos) expect(typeof photo.value).toBe('string');
        for (const key of ['accountId', 'nickname', 'profileUrl', 'username'] as const) {
          expect(['string', 'undefined']).toContain(typeof profile[key]);
        }
      }),
      RUNS,
    );
  });

  it('never throws anything but a BitbucketResponseError on any text', () => {
    fc.assert(fc.property(fc.string(), (text) => void outcome(() => parseProfile(text))), RUNS);
  });
});

describe('parseEmailsPage, parseWorkspacesPage and parsePermission, for any input', () => {
  it('give checked entries or a BitbucketResponseError', () => {
    fc.assert(
      fc.property(fc.oneof(anyJson, pageLike), (json) => {
        const body = JSON.stringify(json) ?? 'undefined';
        const emails = outcome(() => parseEmailsPage(body));
        if (emails.ok) {
          for (const e of emails.value.values) {
            expect(typeof e.email).toBe('string');
            expect(typeof e.isPrimary).toBe('boolean');
            expect(typeof e.isConfirmed).toBe('boolean');
          }
          expect(['string', 'undefined']).toContain(typeof emails.value.next);
        }
        const workspaces = outcome(() => parseWorkspacesPage(body));
        if (workspaces.ok) {
          for (const w of workspaces.value.values) {
            expect(typeof w.slug).toBe('string');
            expect(typeof w.administrator).toBe('boolean');
          }
        }
        const permission = outcome(() => parsePermission(body));
        if (permission.ok) {
          expect(typeof permission.value.slug).toBe('string');
          expect(['string', 'undefined']).toContain(typeof permission.value.permission);
        }
      }),
      RUNS,
    );
  });
});
