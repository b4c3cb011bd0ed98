/**
 * Loaded before every test file (jest's setupFilesAfterEnv): no test reaches beyond this
 * machine. A connection to anything but 127.0.0.0/8, ::1 or localhost, or a DNS lookup of any
 * other name, is refused before a packet leaves, and fails the test that made it.
 */
import dns from 'node:dns';
import net from 'node:net';

interface Guard {
  attempts: string[];
}
// The core modules are shared by every test file a worker runs: patched once, the record on them.
const KEY = Symbol.for('passport-bitbucket-auth.offline');
const holder = net as unknown as { [KEY]?: Guard };

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  if (bare.startsWith('::ffff:')) return isLoopback(bare.slice('::ffff:'.length));
  return net.isIPv4(bare) && bare.startsWith('127.');
}

/** What the guard refused since the last call, for a test of the guard itself. */
export function takeAttempts(): string[] {
  return holder[KEY]!.attempts.splice(0);
}

if (!holder[KEY]) {
  const guard: Guard = { attempts: [] };
  holder[KEY] = guard;
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guarded(this: net.Socket, ...args: unknown[]): net.Socket {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const options = (typeof first === 'object' && first !== null ? first : {}) as { host?: unknown; path?: unknown; port?: unknown };
    // A path is a local socket; a bare port (or no host) is localhost.
    const host = typeof options.path === 'string' || typeof first === 'string' ? 'localhost' : typeof first === 'number' ? String(args[1] ?? 'localhost') : String(options.host ?? 'localhost');
    if (isLoopback(host)) return connect.apply(this, args as Parameters<typeof connect>);
    guard.attempts.push(`a connection to ${host}:${String(options.port ?? args[0])}`);
    process.nextTick(() => this.destroy(new Error(`the test network guard refused a connection to ${host}`)));
    return this;
  } as typeof connect;
  const lookup = dns.lookup;
  (dns as { lookup: unknown }).lookup = function guardedLookup(hostname: string, ...rest: unknown[]): void {
    if (isLoopback(hostname)) return void (lookup as (...a: unknown[]) => void).call(dns, hostname, ...rest);
    guard.attempts.push(`a DNS lookup of ${hostname}`);
    const callback = rest[rest.length - 1] as (error: Error) => void;
    process.nextTick(callback, Object.assign(new Error(`the test network guard refused a DNS lookup of ${hostname}`), { code: 'ENOTFOUND' }));
  };
  const lookupPromise = dns.promises.lookup;
  (dns.promises as { lookup: unknown }).lookup = (hostname: string, ...rest: unknown[]) => {
    if (isLoopback(hostname)) return (lookupPromise as (...a: unknown[]) => Promise<unknown>)(hostname, ...rest);
    guard.attempts.push(`a DNS lookup of ${hostname}`);
    return Promise.reject(Object.assign(new Error(`the test network guard refused a DNS lookup of ${hostname}`), { code: 'ENOTFOUND' }));
  };
}

beforeEach(() => {
  holder[KEY]!.attempts.length = 0;
});

afterEach(() => {
  const attempts = takeAttempts();
  if (attempts.length > 0) throw new Error(`This test tried to leave the machine: ${[...new Set(attempts)].join('; ')}`);
});
