'use strict';
/**
 * Bitbucket's token, user and emails answers from the recorded fixtures, as fast as a server
 * can give them: for measuring the client side alone (bench/strategy-path.js). Forked; sends
 * its base URL over IPC.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const fixture = (name) => JSON.stringify(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'support', 'fixtures', name), 'utf8')));
const answers = { token: fixture('token.json'), user: fixture('user.json'), emails: fixture('emails.json') };

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = req.url.startsWith('/site/oauth2/access_token') ? answers.token : req.url.startsWith('/2.0/user/emails') ? answers.emails : answers.user;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.send({ base: `http://127.0.0.1:${server.address().port}` }));
process.on('disconnect', () => process.exit(0));
