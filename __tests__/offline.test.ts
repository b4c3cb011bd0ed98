import { connect } from 'node:net';
import { lookup } from 'node:dns';
import { isLoopback, takeAttempts } from './helpers/offline';

describe('the test network guard', () => {
  it('refuses a connection to a host beyond the machine before it is made, and records it', async () => {
    const error = await new Promise<Error>((resolve) => connect({ host: 'api.bitbucket.org', port: 443 }).on('error', resolve));
    expect(error.message).toBe('the test network guard refused a connection to api.bitbucket.org');
    const failed = await new Promise<Error | null>((resolve) => lookup('bitbucket.org', (e) => resolve(e)));
    expect(failed?.message).toMatch(/refused a DNS lookup of bitbucket\.org/);
    // Taken here so that this test passes; in any other test they would fail it.
    expect(takeAttempts()).toEqual(['a connection to api.bitbucket.org:443', 'a DNS lookup of bitbucket.org']);
  });

  it('lets loopback through', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(host)).toBe(true);
    for (const host of ['10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', 'bitbucket.org', '128.0.0.1', '::2']) expect(isLoopback(host)).toBe(false);
  });
});
