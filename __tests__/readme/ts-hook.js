// Loaded with `node -r` by readme.test.ts: lets the child process require the package's
// TypeScript source as an app requires the package, so a README block runs exactly as written.
const Module = require('node:module');
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.join(__dirname, '..', '..');
require.extensions['.ts'] = (module, filename) => {
  const source = require('node:fs').readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  module._compile(outputText, filename);
};

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'passport-bitbucket-auth') return path.join(ROOT, 'lib', 'index.ts');
  if (request === 'passport-bitbucket-auth/testing') return path.join(ROOT, 'lib', 'testing', 'index.ts');
  return resolve.call(this, request, ...rest);
};
