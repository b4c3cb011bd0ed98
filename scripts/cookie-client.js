'use strict';
/**
 * A browser stand-in for the soak and the benchmarks: keeps cookies, follows no redirect by
 * itself, reads every body. One instance is one browser.
 */
function browser() {
  const jar = new Map();
  /**
   * @param {string} url
   * @param {{ method?: string, signal?: AbortSignal }} [init]
   * @returns {Promise<{ status: number, location: string | null, body: string }>}
   */
  return async function request(url, init = {}) {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      signal: init.signal,
      headers: jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return { status: response.status, location: response.headers.get('location'), body: await response.text() };
  };
}

module.exports = { browser };
