'use strict';
/**
 * Bitbucket's token, user and emails answers from the recorded fixtures, as fast as a server
 * can give them: for measuring the client side alone (bench/strategy-path.js). Forked; sends
 * its base URL over IPC. Required, it only gives `answerFor` (the in-process answers of
 * `bench/instructions.js --stages`).
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const fixture = (name) => JSON.stringify(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'support', 'fixtures', name), 'utf8')));
const answers = { token: fixture('token.json'), user: fixture('user.json'), emails: fixture('emails.json') };

/** The answer to a request for `path` (a URL's path and query). */
const answerFor = (path) => (path.startsWith('/site/oauth2/access_token') ? answers.token : path.startsWith('/2.0/user/emails') ? answers.emails : answers.user);

if (require.main === module) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = answerFor(req.url);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ base: `http://127.0.0.1:${server.address().port}` }));
  process.on('disconnect', () => process.exit(0));
}

module.exports = { answerFor };
