/**
 * Atlassian's OpenAPI specs as the tests read them: the extracts in support/specs/ (written by
 * scripts/extract-specs.js), with the allowances below applied, turned into JSON Schema for
 * responses. Used by contract.test.ts and spec-properties.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export type Node = { [key: string]: unknown };
export type Spec = { source: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, Node> } };
const load = (file: string): Spec => JSON.parse(readFileSync(join(__dirname, '..', '..', 'support', 'specs', file), 'utf8')) as Spec;

/** The object at `keys` under `root`: throws when the spec no longer has it (then the allowance may be obsolete). */
export function at(root: unknown, ...keys: Array<string | number>): Node {
  let node: unknown = root;
  for (const key of keys) node = (node as Node | undefined)?.[key];
  if (!node || typeof node !== 'object') throw new Error(`the spec has nothing at ${keys.join('.')}`);
  return node as Node;
}

const ERROR = { $ref: '#/components/schemas/error' };
const DC_ERRORS = { type: 'object', required: ['errors'], properties: { errors: { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/RestErrorMessage' } } } };
/** BITBUCKET.md and fixtures/emails.json: the entry the spec does not describe. */
const EMAIL = {
  type: 'object',
  required: ['email', 'is_primary', 'is_confirmed', 'type'],
  properties: { email: { type: 'string' }, is_primary: { type: 'boolean' }, is_confirmed: { type: 'boolean' }, type: { const: 'email' }, links: { type: 'object' } },
};

/** Where the spec is silent or contradicts what Bitbucket does (../shared/specs/README.md), and how the check reads it. */
export const ALLOWANCES: Array<[why: string, apply: (cloud: Spec, dc: Spec) => void]> = [
  ['Cloud /user declares `account`; it returns a `user`', (c) => void (at(c.paths, '/user')['200'] = { $ref: '#/components/schemas/user' })],
  ['Cloud user.has_2fa_enabled is typed boolean; real answers carry null', (c) => void (at(c.components.schemas, 'user', 'allOf', 1, 'properties', 'has_2fa_enabled')['nullable'] = true)],
  ['Cloud /user/emails documents no 200 schema: the paginated entry of BITBUCKET.md', (c) => void (at(c.paths, '/user/emails')['200'] = pageOf(c, EMAIL))],
  ['Cloud workspace_membership has no `permission`; the operation lists its values', (c) => void (at(c.components.schemas, 'workspace_membership', 'allOf', 1, 'properties')['permission'] = { enum: ['owner', 'create-project', 'member', 'collaborator'] })],
  ['Cloud error.detail is typed string; missing-scope 403s carry an object', (c) => void (at(c.components.schemas, 'error', 'properties', 'error', 'properties')['detail'] = { type: ['string', 'object'] })],
  ['Cloud 403 (scope), 404 and 410 (CHANGE-2770) are not declared on these operations: `error`', (c) => Object.values(c.paths).forEach((r) => ['403', '404', '410'].forEach((s) => (r[s] ??= ERROR)))],
  ['DC RestApplicationUser marks avatarUrl and links writeOnly, yet they are returned', (_c, d) => ['avatarUrl', 'links'].forEach((p) => delete at(d.components.schemas, 'RestApplicationUser', 'properties', p)['writeOnly'])],
  ['DC users?filter= declares one user; it returns the page envelope of admin/users', (_c, d) => void (at(d.paths, '/api/latest/users')['200'] = dcPage(d))],
  ['DC RestErrorMessage.context and .exceptionName may be null', (_c, d) => ['context', 'exceptionName'].forEach((p) => (at(d.components.schemas, 'RestErrorMessage', 'properties', p)['nullable'] = true))],
  ['DC 401 and 404 bodies: the spec leaves `errors` optional; Data Center always sends it', (_c, d) => Object.values(d.paths).forEach((r) => ['401', '404'].forEach((s) => r[s] && (r[s] = DC_ERRORS)))],
];

function pageOf(c: Spec, item: unknown): Node {
  const envelope = structuredClone(at(c.components.schemas, 'paginated_workspace_access'));
  at(envelope, 'properties')['values'] = { type: 'array', items: item };
  return envelope;
}
function dcPage(d: Spec): Node {
  const page = structuredClone(at(d.paths, '/api/latest/admin/users', '200'));
  at(page, 'properties', 'values')['items'] = { $ref: '#/components/schemas/RestApplicationUser' };
  return page;
}

/** OpenAPI 3.0 to JSON Schema, for a response: `nullable` admits null; a `writeOnly` property must not be sent. */
export function forResponse(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forResponse);
  if (!node || typeof node !== 'object') return node;
  const out: Node = {};
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Node).map(([name, s]) => [name, (s as Node)['writeOnly'] === true ? false : forResponse(s)]));
    } else if (!['nullable', 'discriminator', 'example', 'readOnly', 'writeOnly', 'deprecated'].includes(key)) out[key] = forResponse(value);
  }
  if ((node as Node)['nullable'] === true) return { anyOf: [out, { type: 'null' }] };
  return out;
}

export const cloud = load('bitbucket-cloud.json');
export const dc = load('bitbucket-datacenter.json');
for (const [, apply] of ALLOWANCES) apply(cloud, dc);

/** A validator for the response of `route` with `status`: its schema, with the components its `$ref`s name. */
function validators(spec: Spec): (route: string, status: number) => ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const components = forResponse(spec.components);
  const compiled = new Map<string, ValidateFunction>();
  return (route, status) => {
    const schema = spec.paths[route]?.[String(status)] ?? (status >= 400 ? spec.paths[route]?.['default'] : undefined);
    if (!schema) throw new Error(`${spec.source} declares no ${status} for ${route}`);
    const key = `${route} ${status}`;
    if (!compiled.has(key)) compiled.set(key, ajv.compile({ ...(forResponse(schema) as Node), components }));
    return compiled.get(key)!;
  };
}
export const cloudSchema = validators(cloud);
export const dcSchema = validators(dc);

