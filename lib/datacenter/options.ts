import { flags, listOf, PREFIX, resolveCommon } from '../core/options';
import { inRange, parseHttpURL } from '../core/json';
import type { Product } from '../core/strategy';

/** A project key, and a repository as `KEY/slug`: one `/`, no `%`, and a slug not `.` or `..` (`ENG/..` would gate on the project). */
const PROJECT_KEY = /^~?[A-Za-z0-9_]{1,128}$/;
const REPOSITORY = /^~?[A-Za-z0-9_]{1,128}\/(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;
/** Each project or repository is one concurrent request per login: a bound on them. */
const MAX_TARGETS = 20;

/** Checks the Data Center strategy's options; the caller's object is never changed. */
export function resolveDataCenterOptions(options: unknown) {
  const common = resolveCommon(options, 'datacenter', [
    flags('allowInsecureHTTP', 'trustEmail'),
    [['avatarSize'], (v) => inRange(v, 16, 2048), 'must be a whole number of pixels from 16 to 2048'],
    listOf('projects', PROJECT_KEY, 'project keys'),
    listOf('repositories', REPOSITORY, "repositories as 'KEY/slug'"),
  ], { avatarSize: 64 });
  const { values } = common;
  const baseURL = checkBaseURL(values['baseURL'], values['allowInsecureHTTP'] === true);
  const list = (name: string): string[] => (values[name] as string[] | undefined) ?? [];
  const gate = [...new Set([...list('projects'), ...list('repositories')])].map((name) => gateURL(baseURL, ...(name.split('/') as [string, string?])));
  if (gate.length > MAX_TARGETS) {
    throw new TypeError(`${PREFIX} options.projects and options.repositories may name at most ${MAX_TARGETS} together (one request each per login)`);
  }
  if (gate.length > 0 && common.maySkipProfile) {
    throw new TypeError(`${PREFIX} options.projects and options.repositories need the profile stage: they cannot be combined with skipUserProfile`);
  }
  const whoamiURL = `${baseURL}/plugins/servlet/applinks/whoami`;
  const product: Product = {
    name: 'bitbucket-datacenter', authorizationURL: `${baseURL}/rest/oauth2/latest/authorize`, tokenURL: `${baseURL}/rest/oauth2/latest/token`,
    // NOTE: Data Center's token endpoint takes the client's credentials in the form body (client_secret_post); Basic is not documented.
    clientAuthentication: 'body',
    // NOTE: Data Center honours `scope` (unlike Cloud): PUBLIC_REPOS is what signing in needs; the gate needs REPO_READ.
    passportOptions: { scope: gate.length > 0 ? 'REPO_READ' : 'PUBLIC_REPOS', scopeSeparator: ' ' },
    ahead: [whoamiURL, ...gate],
  };
  const usersURL = `${baseURL}/rest/api/latest/users`;
  const settings = { baseURL, whoamiURL, usersURL, avatarSize: values['avatarSize'] as number, trustEmail: values['trustEmail'] === true, gate };
  return { common, settings, product };
}

/** The URL of a project, or with `slug` of one of its repositories: what the gate asks for. */
export function gateURL(baseURL: string, key: string, slug?: string): string {
  const project = `${baseURL}/rest/api/latest/projects/${encodeURIComponent(key)}`;
  return slug === undefined ? project : `${project}/repos/${encodeURIComponent(slug)}`;
}

function checkBaseURL(value: unknown, allowInsecureHTTP: boolean): string {
  const url = parseHttpURL(value);
  if (!url || url.username || url.password || url.search || url.hash) {
    throw new TypeError(`${PREFIX} options.baseURL is required: your Bitbucket Data Center's address, e.g. https://bitbucket.example.com or ` +
      'https://example.com/bitbucket (no credentials, query or fragment)');
  }
  if (url.protocol === 'http:' && !allowInsecureHTTP) {
    throw new TypeError(`${PREFIX} options.baseURL must use https: tokens and the client secret would cross the network in clear. ` +
      'For a development instance that skips Data Center\'s HTTPS requirement, pass allowInsecureHTTP: true.');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
