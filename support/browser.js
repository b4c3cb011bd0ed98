'use strict';
/**
 * A browser stand-in for the tests, the soak, the benchmarks and the recipe checks: keeps
 * cookies, follows no redirect by itself, reads every body. One instance is one browser; all
 * of them share a keep-alive pool, as a browser keeps its connections. Built on node:http
 * rather than fetch() so that the load costs little CPU next to the apps it measures.
 */
const http = require('node:http');
const https = require('node:https');

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/**
 * @param {{ sameSite?: string[] }} [options] hosts (host:port) that are one site to this
 *   browser, as instances behind one load balancer: they share cookies.
 */
function browser(options = {}) {
  const jars = new Map();
  const jarFor = (host) => {
    const key = (options.sameSite ?? []).includes(host) ? 'same-site' : host;
    if (!jars.has(key)) jars.set(key, new Map());
    return jars.get(key);
  };
  /**
   * @param {string} url
   * @param {{ method?: string, body?: string, headers?: Record<string, string>, signal?: AbortSignal }} [init]
   * @returns {Promise<{ status: number, location: string | null, body: string, url: string }>}
   */
  return function request(url, init = {}) {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const jar = jarFor(target.host);
      const transport = target.protocol === 'https:' ? https : http;
      const headers = { ...init.headers };
      if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
      const outgoing = transport.request(target, { method: init.method ?? 'GET', headers, agent: agents[target.protocol], signal: init.signal }, (response) => {
        for (const cookie of response.headers['set-cookie'] ?? []) {
          const [pair] = cookie.split(';');
          const eq = pair.indexOf('=');
          if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
        }
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null, body: Buffer.concat(chunks).toString('utf8'), url }),
        );
        response.on('error', reject);
        response.on('close', () => {
          if (!response.complete) reject(init.signal?.aborted ? abortError(init.signal) : new Error('connection closed before the response ended'));
        });
      });
      outgoing.on('error', (error) => reject(init.signal?.aborted ? abortError(init.signal) : error));
      outgoing.end(init.body);
    });
  };
}

/** What fetch() rejects with on abort: the signal's reason (a TimeoutError for AbortSignal.timeout()). */
function abortError(signal) {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}

module.exports = { browser };
