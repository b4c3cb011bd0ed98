import * as http from 'node:http';
import * as https from 'node:https';
import { BitbucketNetworkError, BitbucketResponseError, BitbucketTimeoutError } from './errors';

/** What bounds every request the strategy makes. */
export interface HttpLimits {
  /** Milliseconds from sending the request to the last byte of the body. */
  timeout: number;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: http.OutgoingHttpHeaders;
  body?: string | undefined;
  /** A human description used in error messages, e.g. "GET https://api.bitbucket.org/2.0/user". */
  what: string;
  /**
   * Ends the request when cancelled: with the reason if it is one of this package's errors
   * (the login's deadline), else as a network error. One serves all the requests of a login's
   * profile stage.
   */
  cancel?: Cancellation | undefined;
  agent?: http.Agent | undefined;
}

export interface HttpResponse {
  /** The URL the request went to. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  response: http.IncomingMessage;
}

/**
 * Cancels a group of requests at once: the requests of one login's profile stage, when one of
 * them fails or the login's deadline passes. It does what an AbortController would, for less:
 * `npm run bench -- --only path` measured an AbortController and its listeners at about 38 µs
 * a login (3 requests) on Node 20, 14% of the strategy's whole path.
 */
export class Cancellation {
  private readonly callbacks = new Set<(reason: Error) => void>();
  private why: Error | undefined;

  /** Why the group was cancelled, once it is. */
  get reason(): Error | undefined {
    return this.why;
  }

  cancel(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    for (const callback of this.callbacks) callback(reason);
    this.callbacks.clear();
  }

  /** Calls `callback` on cancel; returns a function that stops that. */
  onCancel(callback: (reason: Error) => void): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }
}

/** Network errors that a new attempt may not meet: a reset, a refused or dropped connection. */
const transient = new WeakSet<Error>();
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED']);

/** True for an error a GET may be retried after (see {@link send}). */
export function isTransient(error: unknown): boolean {
  return error instanceof Error && transient.has(error);
}

export function networkError(what: string, cause: unknown, dropped = false): BitbucketNetworkError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error = new BitbucketNetworkError(`${what} failed: could not reach Bitbucket (${reason})`, { cause });
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (dropped || (typeof code === 'string' && TRANSIENT_CODES.has(code))) transient.add(error);
  return error;
}

/** The error of a request cut short by its group's cancellation. */
function cancelledError(what: string, reason: Error): Error {
  return reason instanceof BitbucketTimeoutError ? reason : networkError(what, reason);
}

/**
 * What a request needs from its URL, parsed once per URL: the strategy's endpoints repeat on
 * every login. (With the raw header list below, this halves the transport's CPU per request:
 * `npm run bench -- --only path` measured 373 µs a login without both, 2xx µs with them.)
 */
interface Target {
  transport: typeof http | typeof https;
  protocol: string;
  hostname: string;
  port: string;
  path: string;
  /** The `Host` header: host and non-default port, as the URL spells them. */
  host: string;
}

const targets = new Map<string, Target>();
/** Enough for every endpoint of a few strategies; page links beyond it are parsed each time. */
const MAX_TARGETS = 64;

function parseTarget(url: string): Target {
  const known = targets.get(url);
  if (known) return known;
  const parsed = new URL(url);
  const transport = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
  if (!transport) throw new Error(`unsupported protocol ${parsed.protocol}`);
  const { hostname } = parsed;
  const target: Target = {
    transport,
    protocol: parsed.protocol,
    hostname: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port: parsed.port,
    path: `${parsed.pathname}${parsed.search}`,
    host: parsed.host,
  };
  if (targets.size < MAX_TARGETS) targets.set(url, target);
  return target;
}

/**
 * The request's headers as a flat list (Node's raw form, which it validates but does not
 * re-index, where an object costs a `setHeader` per header), with `Host` and `Content-Length`
 * added. Names are matched case-insensitively: a later header replaces an earlier one.
 */
function rawHeaders(host: string, headers: http.OutgoingHttpHeaders, body: string | undefined): string[] {
  const byName = new Map<string, [string, string | number | readonly string[]]>();
  byName.set('host', ['Host', host]);
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) byName.set(name.toLowerCase(), [name, value]);
  }
  if (body !== undefined) byName.set('content-length', ['Content-Length', Buffer.byteLength(body)]);
  const raw: string[] = [];
  for (const [name, value] of byName.values()) {
    if (Array.isArray(value)) for (const item of value) raw.push(name, item);
    else raw.push(name, String(value));
  }
  return raw;
}

/**
 * One HTTP exchange, bounded in time (a single deadline for headers and body together, so a
 * slow drip ends too) and in size. It always settles, exactly once, and leaves no socket
 * behind on failure.
 */
export function send(request: HttpRequest, limits: HttpLimits): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const { cancel } = request;
    if (cancel?.reason) return reject(cancelledError(request.what, cancel.reason));
    let outgoing: http.ClientRequest;
    try {
      const target = parseTarget(request.url);
      const options: https.RequestOptions = {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: request.method,
        headers: rawHeaders(target.host, request.headers, request.body),
      };
      if (request.agent) options.agent = request.agent;
      outgoing = target.transport.request(options, onResponse);
    } catch (cause) {
      // An unparsable URL, or a header Node refuses to send (a control character): no request left.
      return reject(networkError(request.what, cause));
    }

    let settled = false;
    const timer = setTimeout(
      () => fail(new BitbucketTimeoutError(`${request.what} timed out: Bitbucket did not answer within ${limits.timeout} ms`, { timeout: limits.timeout, limit: 'request' })),
      limits.timeout,
    );
    const stopListening = cancel?.onCancel((reason) => fail(cancelledError(request.what, reason)));
    outgoing.on('error', (cause) => fail(networkError(request.what, cause)));
    outgoing.end(request.body);

    function onResponse(incoming: http.IncomingMessage): void {
      const declared = Number(incoming.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) return fail(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) return fail(tooLarge());
        chunks.push(chunk);
      });
      incoming.on('end', () =>
        finish(() =>
          resolve({ url: request.url, status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8'), response: incoming }),
        ),
      );
      incoming.on('error', (cause) => fail(networkError(request.what, cause)));
      incoming.on('close', () => {
        if (!incoming.complete) fail(networkError(request.what, new Error('connection closed before the response ended'), true));
      });
    }

    function tooLarge(): BitbucketResponseError {
      return new BitbucketResponseError(`${request.what}: Bitbucket's response is larger than ${limits.maxBytes} bytes`, { code: 'BITBUCKET_RESPONSE_TOO_LARGE' });
    }

    function finish(settle: () => void): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopListening?.();
      settle();
    }

    function fail(error: Error): void {
      finish(() => {
        outgoing.destroy();
        reject(error);
      });
    }
  });
}

/** Resolves after `ms`, or rejects with the group's reason as soon as it is cancelled. */
export function pause(ms: number, cancel: Cancellation | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (cancel?.reason) return reject(cancel.reason);
    const timer = setTimeout(() => {
      stop?.();
      resolve();
    }, ms);
    const stop = cancel?.onCancel((reason) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
}
