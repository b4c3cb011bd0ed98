'use strict';
/**
 * The hand-written reference the benchmarks compare with: a Bitbucket sign-in with no library
 * (no Passport, no passport-oauth2, no `oauth`), only express-session and node:http/https with
 * Node's default keep-alive agents. It makes the same requests as the packages: the token
 * exchange, then `/2.0/user`, and with `emails` also `/2.0/user/emails` (at the same time as
 * the user). It checks `state` against the session, reads the JSON, and signs the user in as
 * Passport does (a new session, then saved). What a login costs below this is the cost of
 * Express, the session and the requests themselves.
 */
const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');

/** One request; resolves with the parsed JSON body of a 2xx answer, rejects on anything else. */
function requestJson(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    const request = transport.request(target, { method, headers, timeout: 10_000 }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode < 200 || response.statusCode >= 300) return reject(new Error(`${method} ${target.pathname}: ${response.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${target.pathname}: timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * The requests of one login: the code for a token, then the user (and the emails).
 * @returns {Promise<{ id: string, username: string, emails: string[] }>}
 */
async function signIn(endpoints, code, { emails }) {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: endpoints.callbackURL }).toString();
  const basic = Buffer.from(`${endpoints.clientID}:${endpoints.clientSecret}`).toString('base64');
  const token = await requestJson(endpoints.tokenURL, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    body,
  });
  const headers = { Authorization: `Bearer ${token.access_token}` };
  const [user, page] = await Promise.all([
    requestJson(endpoints.userProfileURL, { headers }),
    emails ? requestJson(endpoints.userEmailsURL, { headers }) : undefined,
  ]);
  return {
    id: user.uuid,
    username: user.username,
    emails: page ? page.values.filter((e) => e.is_confirmed).map((e) => e.email) : [],
  };
}

/**
 * The two handlers of the sign-in: `start` for `/auth/bitbucket` (a state in the session, the
 * redirect to Bitbucket) and `callback` for its callback (the state checked and used up, the
 * requests, a new session for the user, the redirect to `/done`).
 */
function referenceHandlers(endpoints, { emails, onSignedIn }) {
  const start = (req, res) => {
    const state = crypto.randomBytes(24).toString('base64url');
    req.session.bitbucketState = state;
    const url = new URL(endpoints.authorizationURL);
    url.search = new URLSearchParams({ client_id: endpoints.clientID, response_type: 'code', redirect_uri: endpoints.callbackURL, state }).toString();
    res.redirect(url.href);
  };
  const callback = (req, res, next) => {
    const expected = req.session.bitbucketState;
    delete req.session.bitbucketState;
    if (typeof req.query.code !== 'string' || typeof expected !== 'string' || req.query.state !== expected) return res.redirect('/failed');
    signIn(endpoints, req.query.code, { emails }).then(
      (user) => {
        onSignedIn(user);
        req.session.regenerate((error) => {
          if (error) return next(error);
          req.session.user = { id: user.id };
          req.session.save((failure) => (failure ? next(failure) : res.redirect('/done')));
        });
      },
      () => res.redirect('/failed'),
    );
  };
  return { start, callback };
}

module.exports = { referenceHandlers, signIn };
