'use strict';
/**
 * The demo: an Express 5 app that signs users in with Bitbucket through this package.
 * `createApp(config)` builds it; `server.js` starts it (against the real Bitbucket, or the
 * local emulator when no credentials are set).
 */
const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { Passport } = require('passport');
const { Strategy, BitbucketDataCenterStrategy, BitbucketError, TokenError } = require('passport-bitbucket-auth');

/**
 * @param {object} config
 * @param {string} config.clientID the OAuth consumer's Key
 * @param {string} config.clientSecret the OAuth consumer's Secret
 * @param {string} config.baseURL where the app is reached, e.g. http://localhost:3000
 * @param {string} [config.sessionSecret] signs the session cookie (random when absent)
 * @param {import('express-session').Store} [config.sessionStore] default: in memory
 * @param {boolean} [config.emulator] say on every page that the local emulator is in use
 * @param {string} [config.authorizationURL]
 * @param {string} [config.tokenURL]
 * @param {string} [config.userProfileURL]
 * @param {string} [config.userEmailsURL]
 * @param {string} [config.userWorkspacesURL]
 * @param {string[]} [config.workspaces] only members of these workspaces may sign in
 * @param {boolean} [config.pkce]
 * @param {number} [config.timeout]
 * @param {string} [config.instance] a name shown in the footer (several instances)
 * @param {{ baseURL: string, clientID: string, clientSecret: string, allowInsecureHTTP?: boolean }} [config.dataCenter]
 *   also offer "Sign in with Bitbucket Data Center" against this instance
 */
function createApp(config) {
  const passport = new Passport();
  const strategyOptions = {
    clientID: config.clientID,
    clientSecret: config.clientSecret,
    callbackURL: `${config.baseURL}/auth/bitbucket/callback`,
  };
  for (const key of ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailsURL', 'userWorkspacesURL', 'workspaces', 'pkce', 'timeout']) {
    if (config[key] !== undefined) strategyOptions[key] = config[key];
  }
  passport.use(
    new Strategy(strategyOptions, async (accessToken, refreshToken, profile) => ({
      id: profile.id,
      accountId: profile.accountId,
      username: profile.username,
      displayName: profile.displayName,
      profileUrl: profile.profileUrl,
      photo: profile.photos[0] ? profile.photos[0].value : undefined,
      emails: profile.emails,
      workspaces: profile.workspaces,
    })),
  );
  if (config.dataCenter) {
    passport.use(
      new BitbucketDataCenterStrategy(
        { ...config.dataCenter, callbackURL: `${config.baseURL}/auth/bitbucket-dc/callback`, timeout: config.timeout },
        async (accessToken, refreshToken, profile) => ({
          provider: profile.provider,
          id: profile.id,
          username: profile.username,
          displayName: profile.displayName,
          profileUrl: profile.profileUrl,
          photo: profile.photos[0] ? profile.photos[0].value : undefined,
          emails: profile.emails,
        }),
      ),
    );
  }
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      name: 'demo.sid',
      secret: config.sessionSecret || crypto.randomBytes(32).toString('hex'),
      store: config.sessionStore,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.baseURL.startsWith('https:') },
    }),
  );
  app.use(passport.session());

  const render = (res, status, title, body) =>
    res.status(status).type('html').send(layout(title, body, config));

  app.get('/', (req, res) => {
    if (req.user) return res.redirect('/profile');
    render(
      res,
      200,
      'Welcome',
      `<p>This demo signs you in with your Bitbucket account.</p>
       <p><a class="button" id="sign-in" href="/auth/bitbucket">Sign in with Bitbucket</a>${
         config.dataCenter ? ` <a class="button" id="sign-in-dc" href="/auth/bitbucket-dc">Sign in with Bitbucket Data Center</a>` : ''
       }</p>`,
    );
  });

  /** The callback of either strategy: the user's profile page, or a page that says why not. */
  const callback = (name) => (req, res, next) => {
    // Every page speaks of the product the user signed in with, and tries again there.
    const product = PRODUCTS[name];
    const again = againLinks(product);
    passport.authenticate(name, (err, user, info, status) => {
      if (err) return failure(res, err, product);
      if (!user) {
        if (req.query.error === 'access_denied') {
          return render(res, 401, 'Sign-in cancelled', `<p id="denied">You declined to share your ${product.label} account, so you are not signed in.</p>${again}`);
        }
        const refusal = status === 403 && info && Object.hasOwn(REFUSALS, info.reason) ? REFUSALS[info.reason] : undefined;
        if (refusal) {
          return render(res, 403, refusal.title, `<p id="${refusal.id}">${escapeHtml(info.message)} ${refusal.advice}</p>${again}`);
        }
        if (status === 403) {
          return render(
            res,
            403,
            'Sign-in could not be verified',
            `<p id="forged-state">This sign-in did not start here or has already been used (the <code>state</code> did not match), so it was refused.</p>${again}`,
          );
        }
        return render(res, 401, 'Sign-in refused', `<p>${escapeHtml((info && info.message) || `${product.label} did not sign you in.`)}</p>${again}`);
      }
      req.logIn(user, (loginError) => {
        if (loginError) return next(loginError);
        res.redirect('/profile');
      });
    })(req, res, next);
  };

  app.get('/auth/bitbucket', passport.authenticate('bitbucket'));
  app.get('/auth/bitbucket/callback', callback('bitbucket'));
  if (config.dataCenter) {
    app.get('/auth/bitbucket-dc', passport.authenticate('bitbucket-datacenter'));
    app.get('/auth/bitbucket-dc/callback', callback('bitbucket-datacenter'));
  }

  app.get('/profile', (req, res) => {
    if (!req.user) return res.redirect('/');
    const user = req.user;
    const emails = user.emails.length
      ? `<ul id="emails">${user.emails
          .map(
            (e) =>
              `<li>${escapeHtml(e.value)}${e.primary ? ' <span class="tag">primary</span>' : ''}${
                e.verified ? ' <span class="tag ok">verified</span>' : ' <span class="tag warn">unverified</span>'
              }</li>`,
          )
          .join('')}</ul>`
      : '<p id="emails">No email addresses (the OAuth consumer may lack the Account: Email permission).</p>';
    render(
      res,
      200,
      user.displayName || 'Your profile',
      `<div class="card">
         ${user.photo ? `<img id="avatar" src="${escapeHtml(user.photo)}" alt="" width="96" height="96">` : ''}
         <dl>
           <dt>Display name</dt><dd id="display-name">${escapeHtml(user.displayName)}</dd>
           <dt>Username</dt><dd id="username">${user.username ? escapeHtml(user.username) : '<i>not provided by Bitbucket</i>'}</dd>
           <dt>${user.provider === 'bitbucket-datacenter' ? 'User ID (Data Center)' : 'UUID'}</dt><dd id="uuid"><code>${escapeHtml(user.id)}</code></dd>
           ${user.accountId ? `<dt>Account ID</dt><dd id="account-id"><code>${escapeHtml(user.accountId)}</code></dd>` : ''}
           ${user.profileUrl ? `<dt>Profile</dt><dd><a href="${escapeHtml(user.profileUrl)}">${escapeHtml(user.profileUrl)}</a></dd>` : ''}
         </dl>
       </div>
       <h2>Email addresses</h2>${emails}
       ${
         user.workspaces
           ? `<h2>Workspaces</h2><ul id="workspaces">${user.workspaces
               .map((w) => {
                 // permission is known for the workspaces checked with `workspaces`; the listing
                 // (fetchWorkspaces) only says whether the user administers it.
                 const role = w.permission || (w.administrator ? 'administrator' : '');
                 return `<li>${escapeHtml(w.name || w.slug)} <code>${escapeHtml(w.slug)}</code>${role ? ` <span class="tag">${escapeHtml(role)}</span>` : ''}</li>`;
               })
               .join('')}</ul>`
           : ''
       }
       <form method="post" action="/logout"><button id="sign-out">Sign out</button></form>`,
    );
  });

  app.post('/logout', (req, res, next) => {
    req.logout((err) => {
      if (err) return next(err);
      res.redirect('/');
    });
  });

  // Express 5 error handler: an unexpected error gets a page, never a stack trace.
  app.use((err, req, res, _next) => {
    render(res, 500, 'Something went wrong', '<p>The demo hit an unexpected error.</p>');
  });

  function failure(res, err, product) {
    const again = againLinks(product);
    if (err instanceof TokenError) {
      return render(
        res,
        400,
        'Sign-in expired',
        `<p id="token-error">${product.label} did not accept this sign-in (<code>${escapeHtml(err.code)}</code>): the link may have expired or been used already.</p>${again}`,
      );
    }
    if (err instanceof BitbucketError) {
      return render(
        res,
        502,
        `${product.label} is unavailable`,
        `<p id="bitbucket-down" data-code="${escapeHtml(err.code)}">${product.label} did not answer as expected, so you could not be signed in. Please try again in a moment.</p>
         <p><small>${escapeHtml(err.message)}</small></p>${again}`,
      );
    }
    return render(res, 500, 'Sign-in failed', `<p>${escapeHtml(err && err.message ? err.message : 'Unknown error')}</p>${again}`);
  }

  return app;
}

/** Each strategy's product, and where its sign-in starts. */
const PRODUCTS = {
  bitbucket: { label: 'Bitbucket', login: '/auth/bitbucket' },
  'bitbucket-datacenter': { label: 'Bitbucket Data Center', login: '/auth/bitbucket-dc' },
};

/** The refusals the strategies report (status 403, `info.reason`), and what the user can do. */
const REFUSALS = {
  workspace: { id: 'not-member', title: 'Not a member', advice: 'Ask a workspace admin to invite you, then try again.' },
  access: { id: 'no-access', title: 'No access', advice: 'Ask a Bitbucket Data Center administrator for access to the project, then try again.' },
  inactive: { id: 'inactive', title: 'Account deactivated', advice: 'Ask an administrator of your Bitbucket Data Center to reactivate it, then try again.' },
};

const againLinks = (product) => `<p><a class="button" id="try-again" href="${product.login}">Try again</a> <a href="/">Home</a></p>`;

function layout(title, body, config) {
  const banner = config.emulator
    ? `<div class="banner" id="emulator-banner">Demo mode: signing in with the <b>local Bitbucket emulator</b>${config.dataCenter ? ' and Data Center emulator' : ''}. Set BITBUCKET_CLIENT_ID and BITBUCKET_CLIENT_SECRET to use bitbucket.org; BITBUCKET_DC_URL, BITBUCKET_DC_CLIENT_ID and BITBUCKET_DC_CLIENT_SECRET to use your Bitbucket Data Center.</div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Sign in with Bitbucket demo</title>
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#172b4d}
.banner{background:#fffae6;border:1px solid #ffe380;padding:.6rem .8rem;border-radius:4px;margin-bottom:1rem}
.button,button{display:inline-block;background:#0052cc;color:#fff;border:0;border-radius:4px;padding:.6rem 1rem;text-decoration:none;font-size:1rem;cursor:pointer}
.card{display:flex;gap:1.5rem;align-items:flex-start}.card img{border-radius:50%}
dt{font-weight:600}dd{margin:0 0 .5rem 0}
.tag{font-size:.75rem;background:#dfe1e6;border-radius:3px;padding:0 .3rem}.tag.ok{background:#e3fcef}.tag.warn{background:#ffebe6}
footer{margin-top:2rem;color:#6b778c;font-size:.8rem}
</style></head>
<body>${banner}<h1>${escapeHtml(title)}</h1>${body}
<footer>passport-bitbucket-auth demo${config.instance ? ` · instance ${escapeHtml(config.instance)}` : ''}</footer></body></html>`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

module.exports = { createApp };
