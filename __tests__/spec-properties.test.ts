/**
 * The parsers take whatever the specs allow. Bodies are generated from Atlassian's schemas
 * (support/specs/, read through helpers/specs.ts): the fields a parser needs are present, and
 * everything else varies (optional fields absent, extra properties, unicode, long strings,
 * null where the spec allows it). The mapping asserted is the one the README's Profile sections
 * promise. A body without what the parser needs is a BitbucketResponseError, never a profile.
 */
import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { BitbucketResponseError } from '../lib';
import { orderEmails, parseEmailsPage, parseProfile, parsePermission, parseWorkspacesPage } from '../lib/cloud/profile';
import { findUser, parseDataCenterUser, userJson } from '../lib/datacenter/strategy';
import { at, cloud, cloudSchema, dc, dcSchema, forResponse, type Node, type Spec } from './helpers/specs';

// Bounded: a few hundred bodies per property, the file in a few seconds.
const RUNS = { numRuns: 150 };

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1000, maxLength: 3000 }) },
);
// Prefixed, so that an extra property never stands in for one the schema describes (in another part of an allOf).
const extraKey = fc.string({ maxLength: 12 }).map((k) => `extra ${k}`);
const extras = fc.dictionary(extraKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });

/** An arbitrary for the bodies a (response) JSON Schema allows, resolving `#/components/...` in `components`. */
function arbitrary(schema: unknown, components: unknown, depth = 0): fc.Arbitrary<unknown> {
  if (schema === true || schema === undefined) return fc.jsonValue({ maxDepth: 1 });
  const s = schema as Node;
  if (typeof s['$ref'] === 'string') return arbitrary(at(components, ...s['$ref'].replace('#/components/', '').split('/')), components, depth);
  if (Array.isArray(s['anyOf'])) return fc.oneof(...(s['anyOf'] as unknown[]).map((part) => arbitrary(part, components, depth)));
  if (Array.isArray(s['allOf'])) {
    const parts = (s['allOf'] as unknown[]).map((part) => arbitrary(part, components, depth));
    return fc.tuple(...parts).map((objects) => Object.assign({}, ...objects.map((o) => o as object)) as unknown);
  }
  if ('const' in s) return fc.constant(s['const']);
  if (Array.isArray(s['enum'])) return fc.constantFrom(...(s['enum'] as unknown[]));
  const type = s['type'];
  if (Array.isArray(type)) return fc.oneof(...type.map((t: unknown) => arbitrary({ ...s, type: t }, components, depth)));
  if (type === 'string') {
    if (s['format'] === 'date-time') return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
    if (s['format'] === 'uri') return fc.webUrl();
    return text;
  }
  if (type === 'integer' || type === 'number') {
    const min = typeof s['minimum'] === 'number' ? s['minimum'] : s['format'] === 'int32' ? -(2 ** 31) : Number.MIN_SAFE_INTEGER;
    return fc.integer({ min, max: s['format'] === 'int32' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER });
  }
  if (type === 'boolean') return fc.boolean();
  if (type === 'null') return fc.constant(null);
  if (type === 'array') return fc.array(arbitrary(s['items'], components, depth + 1), { maxLength: depth > 1 ? 1 : 3 });
  // An object, with or without `type`: each property optional unless required; a property the
  // response must not carry (`false`) is left out; extra properties unless forbidden.
  const properties = Object.entries((s['properties'] ?? {}) as Node).filter(([, p]) => p !== false);
  const required = (s['required'] ?? []) as string[];
  const known = fc.record(Object.fromEntries(properties.map(([name, p]) => [name, depth > 3 ? fc.constant(null) : arbitrary(p, components, depth + 1)])), {
    requiredKeys: properties.map(([name]) => name).filter((name) => required.includes(name)),
  });
  if (s['additionalProperties'] === false) return known;
  return fc.tuple(extras, known).map(([more, body]) => ({ ...more, ...body }));
}

const cloudComponents = forResponse(cloud.components);
const dcComponents = forResponse(dc.components);
const fromCloud = (schema: unknown): fc.Arbitrary<Node> => arbitrary(forResponse(schema), cloudComponents) as fc.Arbitrary<Node>;
const fromDc = (schema: unknown): fc.Arbitrary<Node> => arbitrary(forResponse(schema), dcComponents) as fc.Arbitrary<Node>;
const response = (spec: Spec, route: string): unknown => at(spec.paths, route, '200');

/** Every generated body is one the spec allows: the generator cannot drift from the schema it reads. */
function conforming(arb: fc.Arbitrary<Node>, validate: ValidateFunction): fc.Arbitrary<Node> {
  return arb.map((body) => {
    if (!validate(body)) throw new Error(`generated a body the spec refuses (${JSON.stringify(validate.errors)}): ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  });
}
const nonEmpty = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const typedError = (parse: () => unknown): void => {
  expect(parse).toThrow(BitbucketResponseError);
};

describe('Cloud /2.0/user bodies from the spec', () => {
  const users = conforming(fromCloud(response(cloud, '/user')), cloudSchema('/user', 200));
  const withUuid = fc.tuple(users, nonEmpty).map(([body, uuid]): Node => ({ ...body, type: 'user', uuid }));

  it('map to the profile the README promises', () => {
    fc.assert(
      fc.property(withUuid, (body) => {
        const raw = JSON.stringify(body);
        const profile = parseProfile(raw);
        const str = (key: string): string | undefined => (typeof body[key] === 'string' && body[key] !== '' ? (body[key] as string) : undefined);
        const href = (name: string): string | undefined => {
          const link = (body['links'] as Record<string, { href?: unknown } | undefined> | undefined)?.[name];
          return typeof link?.href === 'string' && link.href !== '' ? link.href : undefined;
        };
        expect(profile).toMatchObject({ provider: 'bitbucket', id: body['uuid'], emails: [], _raw: raw });
        expect(profile._json).toEqual(JSON.parse(raw));
        expect(profile.accountId).toBe(str('account_id'));
        expect(profile.nickname).toBe(str('nickname'));
        expect(profile.username).toBe(str('username'));
        expect('username' in profile).toBe(str('username') !== undefined);
        expect(profile.displayName).toBe(str('display_name') ?? str('nickname') ?? str('username') ?? '');
        expect(profile.profileUrl).toBe(href('html'));
        expect(profile.photos).toEqual(href('avatar') ? [{ value: href('avatar') }] : []);
      }),
      RUNS,
    );
  });

  it('without a uuid are a BitbucketResponseError', () => {
    const broken = fc.tuple(users, fc.constantFrom(undefined, null, '', 7, {})).map(([body, uuid]) => ({ ...body, type: 'user', uuid }));
    fc.assert(fc.property(broken, (body) => typedError(() => parseProfile(JSON.stringify(body)))), RUNS);
  });

  it('of any type but user (a workspace, a team, none) are a BitbucketResponseError', () => {
    const other = fc.oneof(fc.string().filter((type) => type !== 'user'), fc.constant(undefined));
    const notUsers = fc.tuple(withUuid, other).map(([body, type]) => ({ ...body, type }));
    fc.assert(fc.property(notUsers, (body) => typedError(() => parseProfile(JSON.stringify(body)))), RUNS);
  });
});

describe('Cloud /2.0/user/emails pages', () => {
  const entry = at(at(cloud.paths, '/user/emails', '200'), 'properties', 'values', 'items');
  const entries = fc.tuple(fromCloud(entry), fc.emailAddress()).map(([body, email]) => ({ ...body, email }));
  const pages = conforming(
    fc.tuple(fromCloud(at(cloud.paths, '/user/emails', '200')), fc.array(entries, { maxLength: 8 })).map(([page, values]) => ({ ...page, values })),
    cloudSchema('/user/emails', 200),
  );

  it('parse entry by entry, and order confirmed addresses primary first, without duplicates', () => {
    fc.assert(
      fc.property(pages, (page) => {
        const parsed = parseEmailsPage(JSON.stringify(page));
        const values = page['values'] as Node[];
        expect(parsed.values).toEqual(values.map((v) => ({ email: v['email'], isPrimary: v['is_primary'] === true, isConfirmed: v['is_confirmed'] === true })));
        expect(parsed.next).toBe(typeof page['next'] === 'string' && page['next'] !== '' ? page['next'] : undefined);
        const emails = orderEmails(parsed.values, false);
        const confirmed = parsed.values.filter((v) => v.isConfirmed);
        expect(emails.every((e) => e.verified)).toBe(true);
        expect(new Set(emails.map((e) => e.value.toLowerCase())).size).toBe(emails.length);
        expect(new Set(emails.map((e) => e.value.toLowerCase()))).toEqual(new Set(confirmed.map((v) => v.email.toLowerCase())));
        if (confirmed.some((v) => v.isPrimary)) expect(emails[0]?.primary).toBe(true);
      }),
      RUNS,
    );
  });

  it('with an entry lacking its address are a BitbucketResponseError', () => {
    const broken = fc.tuple(pages, fromCloud(entry), fc.constantFrom(undefined, null, '')).map(([page, bad, email]) => ({ ...page, values: [...(page['values'] as Node[]), { ...bad, email }] }));
    fc.assert(fc.property(broken, (page) => typedError(() => parseEmailsPage(JSON.stringify(page)))), RUNS);
  });
});

describe('Cloud workspace gate bodies', () => {
  const slugged = (body: Node, slug: string): Node => ({ ...body, workspace: { ...((body['workspace'] as Node | undefined) ?? { type: 'workspace' }), slug } });
  const access = at(cloud.components.schemas, 'paginated_workspace_access');
  const listings = conforming(
    fc
      .tuple(fromCloud(access), fc.array(fc.tuple(fromCloud(at(access, 'properties', 'values', 'items')), nonEmpty), { maxLength: 5 }))
      .map(([page, entries]) => ({ ...page, values: entries.map(([e, slug]) => slugged(e, slug)) })),
    cloudSchema('/user/workspaces', 200),
  );
  const route = '/user/workspaces/{workspace}/permission';
  const memberships = conforming(fc.tuple(fromCloud(response(cloud, route)), nonEmpty).map(([body, slug]) => slugged(body, slug)), cloudSchema(route, 200));

  it('map the listing to slug, uuid, administrator and a name only when sent', () => {
    fc.assert(
      fc.property(listings, (page) => {
        const parsed = parseWorkspacesPage(JSON.stringify(page));
        (page['values'] as Node[]).forEach((entry, i) => {
          const w = entry['workspace'] as Node;
          expect(parsed.values[i]).toEqual({
            slug: w['slug'],
            uuid: typeof w['uuid'] === 'string' ? w['uuid'] : '',
            administrator: entry['administrator'] === true,
            ...(typeof w['name'] === 'string' && w['name'] !== '' ? { name: w['name'] } : {}),
          });
        });
      }),
      RUNS,
    );
  });

  it('map a membership to its role, owner meaning administrator', () => {
    fc.assert(
      fc.property(memberships, (body) => {
        const parsed = parsePermission(JSON.stringify(body));
        const permission = body['permission'];
        expect(parsed.slug).toBe((body['workspace'] as Node)['slug']);
        expect(parsed.permission).toBe(typeof permission === 'string' && permission !== '' ? permission : undefined);
        expect(parsed.administrator).toBe(permission === 'owner');
      }),
      RUNS,
    );
  });

  it('without a workspace slug are a BitbucketResponseError', () => {
    const noSlug = fc.tuple(fromCloud(response(cloud, route)), fc.constantFrom(undefined, null, '', 3)).map(([body, slug]) => slugged(body, slug as string));
    fc.assert(fc.property(noSlug, (body) => typedError(() => parsePermission(JSON.stringify(body)))), RUNS);
    const noSlugEntry = fc.tuple(listings, fc.constantFrom(undefined, null, '')).map(([page, slug]) => ({ ...page, values: [...(page['values'] as Node[]), slugged({ type: 'workspace_access' }, slug as string)] }));
    fc.assert(fc.property(noSlugEntry, (page) => typedError(() => parseWorkspacesPage(JSON.stringify(page)))), RUNS);
  });
});

describe('Data Center users from the spec', () => {
  const BASE = 'https://bitbucket.example.com/context';
  const selfLinks = fc.option(fc.record({ self: fc.array(fc.record({ href: fc.webUrl() }), { minLength: 1, maxLength: 2 }) }), { nil: undefined });
  const users = conforming(
    fc
      .tuple(fromDc(response(dc, '/api/latest/users/{userSlug}')), fc.integer({ min: 0, max: 2 ** 31 - 1 }), nonEmpty, selfLinks, fc.boolean())
      .map(([body, id, name, links, active]) => ({ ...body, id, name, active, ...(links ? { links } : {}) })),
    dcSchema('/api/latest/users/{userSlug}', 200),
  );

  it('map to the profile the README promises', () => {
    fc.assert(
      fc.property(users, fc.boolean(), (body, trustEmail) => {
        const raw = JSON.stringify(body);
        const profile = parseDataCenterUser(userJson(raw), raw, BASE, trustEmail);
        const str = (key: string): string | undefined => (typeof body[key] === 'string' && body[key] !== '' ? (body[key] as string) : undefined);
        expect(profile).toMatchObject({ provider: 'bitbucket-datacenter', id: String(body['id']), username: body['name'], _raw: raw });
        expect(profile._json).toEqual(JSON.parse(raw));
        expect(profile.slug).toBe(str('slug') ?? body['name']);
        expect(profile.displayName).toBe(str('displayName') ?? body['name']);
        expect(profile.emails).toEqual(str('emailAddress') ? [{ value: str('emailAddress'), primary: true, verified: trustEmail }] : []);
        const self = (body['links'] as { self?: Array<{ href: string }> } | undefined)?.self?.[0]?.href;
        expect(profile.profileUrl).toBe(self || undefined);
        // A photo for an avatar that resolves, against the base URL, to an http(s) URL; none for another scheme.
        const avatar = str('avatarUrl');
        const web = avatar !== undefined && (() => {
          try {
            return ['http:', 'https:'].includes(new URL(avatar, `${BASE}/`).protocol);
          } catch {
            return false;
          }
        })();
        expect(profile.photos.length).toBe(web ? 1 : 0);
        for (const photo of profile.photos) expect(() => new URL(photo.value)).not.toThrow();
      }),
      RUNS,
    );
  });

  // An avatarUrl the spec allows (any string) that is not a URL used to escape as a TypeError
  // (a backslash path) or become a photo that is not a URL ('http://[').
  it('with an avatarUrl that is no URL give a valid photo or a BitbucketResponseError, never another error', () => {
    const odd = fc.tuple(users, fc.constantFrom('\\\\x', 'http://[', 'https://a b/')).map(([body, avatarUrl]) => ({ ...body, avatarUrl }));
    fc.assert(
      fc.property(odd, (body) => {
        const raw = JSON.stringify(body);
        try {
          for (const photo of parseDataCenterUser(userJson(raw), raw, BASE, false).photos) expect(() => new URL(photo.value)).not.toThrow();
        } catch (error) {
          expect(error).toBeInstanceOf(BitbucketResponseError);
        }
      }),
      RUNS,
    );
  });

  it('are found on a users?filter= page by their exact name', () => {
    const pages = fc.tuple(fromDc(response(dc, '/api/latest/users')), fc.array(users, { minLength: 1, maxLength: 4 })).map(([page, values]) => ({ ...page, values }));
    fc.assert(
      fc.property(conforming(pages, dcSchema('/api/latest/users', 200)), fc.nat(), (page, pick) => {
        const values = page['values'] as Node[];
        const wanted = values[pick % values.length]!;
        expect(findUser(page, wanted['name'] as string)?.['name']).toBe(wanted['name']);
      }),
      RUNS,
    );
  });

  it('without a numeric id, a name or a boolean active flag are a BitbucketResponseError', () => {
    const broken = fc.oneof(
      fc.tuple(users, fc.constantFrom(undefined, null, '101', 1.5, 2 ** 60)).map(([body, id]) => ({ ...body, id })),
      fc.tuple(users, fc.constantFrom(undefined, null, '', 5)).map(([body, name]) => ({ ...body, name })),
      fc.tuple(users, fc.constantFrom(undefined, null, 'true', 'false', 0, 1)).map(([body, active]) => ({ ...body, active })),
    );
    fc.assert(fc.property(broken, (body) => typedError(() => parseDataCenterUser(userJson(JSON.stringify(body)), JSON.stringify(body), BASE, false))), RUNS);
    typedError(() => userJson('[]'));
  });
});
