import { type CommonOptions, PREFIX, resolveCommon } from '../core/options';

/**
 * A project key, and a repository as `KEY/slug`: one separator, no `%`, and a slug that is not
 * `.` or `..` (a URL would read it as a path step: `ENG/..` would gate on the project).
 */
const PROJECT_KEY = /^~?[A-Za-z0-9_]{1,128}$/;
const REPOSITORY = /^~?[A-Za-z0-9_]{1,128}\/(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;
/** Each project or repository is one concurrent request per login: a bound on them. */
const MAX_TARGETS = 20;

/** The Data Center strategy's options after checking, with every default filled in. */
export interface DataCenterOptions extends CommonOptions {
  /** The base URL without a trailing slash. */
  baseURL: string;
  authorizationURL: string;
  tokenURL: string;
  whoamiURL: string;
  usersURL: string;
  avatarSize: number;
  trustEmail: boolean;
  /** The project and repository URLs of the access gate, or none. */
  gate: string[];
  scope: string;
}

/** Checks the Data Center strategy's options and returns a new object; the caller's is never changed. */
export function resolveDataCenterOptions(options: unknown): DataCenterOptions {
  const common = resolveCommon(options, {
    product: 'datacenter',
    booleans: ['allowInsecureHTTP', 'trustEmail'],
    credentials: {
      id: 'Client ID',
      secret: 'Client secret',
      where: 'Bitbucket Data Center incoming application link (Administration → Application Links)',
    },
  });
  const { input } = common;
  const baseURL = checkBaseURL(input['baseURL'], input['allowInsecureHTTP'] === true);

  const avatarSize = input['avatarSize'] ?? 64;
  if (typeof avatarSize !== 'number' || !Number.isInteger(avatarSize) || avatarSize < 16 || avatarSize > 2048) {
    throw new TypeError(`${PREFIX} options.avatarSize must be a whole number of pixels from 16 to 2048`);
  }
  const projects = list(input['projects'], 'projects', PROJECT_KEY, 'project keys');
  const repositories = list(input['repositories'], 'repositories', REPOSITORY, "repositories as 'KEY/slug'");
  if (projects.length + repositories.length > MAX_TARGETS) {
    throw new TypeError(`${PREFIX} options.projects and options.repositories may name at most ${MAX_TARGETS} together (one request each per login)`);
  }
  const gated = projects.length + repositories.length > 0;
  if (gated && common.maySkipProfile) {
    throw new TypeError(`${PREFIX} options.projects and options.repositories need the profile stage: they cannot be combined with skipUserProfile`);
  }
  const api = `${baseURL}/rest/api/latest`;
  const gate = [
    ...projects.map((key) => gateURL(baseURL, key)),
    ...repositories.map((name) => {
      const [key = '', slug = ''] = name.split('/');
      return gateURL(baseURL, key, slug);
    }),
  ];
  return {
    ...common,
    baseURL,
    authorizationURL: `${baseURL}/rest/oauth2/latest/authorize`,
    tokenURL: `${baseURL}/rest/oauth2/latest/token`,
    whoamiURL: `${baseURL}/plugins/servlet/applinks/whoami`,
    usersURL: `${api}/users`,
    avatarSize,
    trustEmail: input['trustEmail'] === true,
    gate,
    // NOTE: Data Center honours `scope` (unlike Cloud). PUBLIC_REPOS is what signing in needs;
    // the project and repository checks need REPO_READ.
    scope: gated ? 'REPO_READ' : 'PUBLIC_REPOS',
  };
}

/** The URL of a project, or with `slug` of one of its repositories: what the gate asks for. */
export function gateURL(baseURL: string, key: string, slug?: string): string {
  const project = `${baseURL}/rest/api/latest/projects/${encodeURIComponent(key)}`;
  return slug === undefined ? project : `${project}/repos/${encodeURIComponent(slug)}`;
}

function checkBaseURL(value: unknown, allowInsecureHTTP: boolean): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    throw new TypeError(
      `${PREFIX} options.baseURL is required: your Bitbucket Data Center's address, e.g. https://bitbucket.example.com or https://example.com/bitbucket (no credentials, query or fragment)`,
    );
  }
  if (url.protocol === 'http:' && !allowInsecureHTTP) {
    throw new TypeError(
      `${PREFIX} options.baseURL must use https: tokens and the client secret would cross the network in clear. ` +
        'For a development instance that skips Data Center\'s HTTPS requirement, pass allowInsecureHTTP: true.',
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function list(value: unknown, name: string, pattern: RegExp, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && pattern.test(v))) {
    throw new TypeError(`${PREFIX} options.${name} must be a non-empty array of ${what}`);
  }
  return [...new Set(value as string[])];
}
