'use strict';
/**
 * Extracts from Atlassian's published OpenAPI specs what the contract and property tests need:
 * the responses of the operations the strategies call, and every schema they reference, into
 * support/specs/. A clone has no copy of the full specs, so the tests read these extracts.
 *
 *   node scripts/extract-specs.js [directory with bitbucket-cloud.json and bitbucket-datacenter.json]
 */
const fs = require('node:fs');
const path = require('node:path');

const SOURCES = {
  'bitbucket-cloud.json': {
    revision: (spec) => `Bitbucket Cloud REST ${spec.info.version}, x-revision ${spec['x-revision']}`,
    operations: ['/user', '/user/emails', '/user/workspaces', '/user/workspaces/{workspace}/permission', '/user/permissions/workspaces', '/workspaces'],
    // /user declares `account`; what it returns is a `user` (specs/README.md).
    schemas: ['user'],
  },
  'bitbucket-datacenter.json': {
    revision: (spec) => `Bitbucket Data Center REST ${spec.info.version} (OpenAPI ${spec.openapi})`,
    // admin/users: the page envelope that users?filter= answers in (the spec declares one user there).
    operations: ['/api/latest/users/{userSlug}', '/api/latest/users', '/api/latest/admin/users', '/api/latest/projects/{projectKey}', '/api/latest/projects/{projectKey}/repos/{repositorySlug}'],
  },
};

function refsIn(node, found) {
  if (Array.isArray(node)) node.forEach((item) => refsIn(item, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.add(value.replace('#/components/schemas/', ''));
      else refsIn(value, found);
    }
  }
  return found;
}

function extract(spec, { revision, operations, schemas: wanted = [] }, file) {
  const paths = {};
  for (const route of operations) {
    const get = spec.paths[route] && spec.paths[route].get;
    if (!get) throw new Error(`${file} has no GET ${route}`);
    paths[route] = Object.fromEntries(
      Object.entries(get.responses).map(([status, r]) => [status, r.content && r.content['application/json'] ? r.content['application/json'].schema : null]),
    );
  }
  // Every schema the responses reach, following references to a fixed point.
  const schemas = {};
  let pending = [...wanted, ...refsIn(paths, new Set())];
  while (pending.length > 0) {
    const name = pending.pop();
    if (schemas[name]) continue;
    if (!spec.components.schemas[name]) throw new Error(`${file} has no schema ${name}`);
    schemas[name] = spec.components.schemas[name];
    pending = pending.concat([...refsIn(schemas[name], new Set())]);
  }
  const sorted = Object.fromEntries(Object.keys(schemas).sort().map((name) => [name, schemas[name]]));
  return { source: `Atlassian's OpenAPI spec (${file}), ${revision(spec)}`, extractedBy: 'scripts/extract-specs.js', paths, components: { schemas: sorted } };
}

const from = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'shared', 'specs'));
const to = path.join(__dirname, '..', 'support', 'specs');
fs.mkdirSync(to, { recursive: true });
for (const [file, source] of Object.entries(SOURCES)) {
  const spec = JSON.parse(fs.readFileSync(path.join(from, file), 'utf8'));
  const extracted = extract(spec, source, file);
  fs.writeFileSync(path.join(to, file), `${JSON.stringify(extracted, null, 2)}\n`);
  console.log(`support/specs/${file}: ${extracted.source}`);
}
