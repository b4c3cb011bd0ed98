import * as http from 'node:http';
import * as https from 'node:https';
import { safeURL } from './answers';
import { BitbucketError, BitbucketNetworkError, BitbucketResponseError, BitbucketTimeoutError } from './errors';

export interface HttpResponse {
  /** The URL the request went to. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request's bounds: milliseconds from the moment it is sent and has a socket to the last byte, and bytes of body. */
export interface Bounds {
  timeout: number;
  maxBytes: number;
}

/**
 * A request made but not yet sent: the agent finds or opens its connection meanwhile (a login
 * opens its API requests while the code exchange runs), and nothing reaches Bitbucket before
 * `send`.
 */
export interface OpenRequest {
  /** Adds `headers`, sends the request with `body` and reads the answer. Settles once. */
  send(headers: http.OutgoingHttpHeaders, body: string | undefined, signal: AbortSignal, bounds: Bounds): Promise<HttpResponse>;
  /** Drops a request that was never sent, with its connection. */
  cancel(): void;
  /** The request itself, unless its connection failed before it was sent (then it is dropped). */
  usable(): OpenRequest | undefined;
}

/** For messages, e.g. "GET https://api.bitbucket.org/2.0/user": origin and path only. */
export function describe(method: string, url: string): string {
  return `${method} ${safeURL(url)}`;
}

export function networkError(what: string, cause: unknown): BitbucketNetworkError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BitbucketNetworkError(`${what} failed: could not reach Bitbucket (${reason})`, { cause });
}

/** The error of a request its signal ended: the signal's reason when it is one of ours. */
export function abortedError(what: string, signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof BitbucketError ? reason : networkError(what, reason);
}

/**
 * Makes a request on Node's own client without sending it. Its `timeout` starts once it is sent
 * and has a socket, so time spent queued behind the agent's connection cap counts only against
 * the login's deadline (the signal). It leaves no socket behind on failure.
 */
export function open(method: 'GET' | 'POST', url: string, headers: http.OutgoingHttpHeaders, agent: http.Agent): OpenRequest {
  let outgoing: http.ClientRequest | undefined;
  let early: unknown;
  let hasSocket = false;
  let onSocket: (() => void) | undefined;
  let onError = (cause: unknown): void => {
    early ??= cause;
  };
  try {
    // Every URL requested is an http(s) URL without credentials (the options and page links are checked).
    // Node takes plain options faster than a URL; an IPv6 host loses its brackets.
    const { protocol, hostname, port, pathname, search } = new URL(url);
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    outgoing = (protocol === 'https:' ? https : http).request({ protocol, hostname: host, port, path: `${pathname}${search}`, method, headers, agent });
    outgoing.on('error', (cause) => onError(cause));
    outgoing.once('socket', () => {
      hasSocket = true;
      onSocket?.();
    });
  } catch (cause) {
    // An unparsable URL, or a header Node refuses to send (a control character).
    early = cause;
  }
  const send = (extra: http.OutgoingHttpHeaders, body: string | undefined, signal: AbortSignal, bounds: Bounds): Promise<HttpResponse> =>
    new Promise<HttpResponse>((resolve, reject) => {
      if (signal.aborted) return reject(abortedError(describe(method, url), signal));
      if (!outgoing || early !== undefined) return reject(networkError(describe(method, url), early));
      const request = outgoing;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (error: Error): void => {
        if (!settle()) return;
        request.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(abortedError(describe(method, url), signal));
      signal.addEventListener('abort', onAbort);
      onError = (cause) => fail(networkError(describe(method, url), cause));
      onSocket = () => {
        timer = setTimeout(() => {
          const message = `${describe(method, url)} timed out: Bitbucket did not answer within ${bounds.timeout} ms`;
          fail(new BitbucketTimeoutError(message, { timeout: bounds.timeout, limit: 'request' }));
        }, bounds.timeout);
      };
      if (hasSocket) onSocket();
      request.on('response', (incoming) => {
        const tooLarge = (): BitbucketResponseError =>
          new BitbucketResponseError(`${describe(method, url)}: Bitbucket's response is larger than ${bounds.maxBytes} bytes`, {
            code: 'BITBUCKET_RESPONSE_TOO_LARGE',
          });
        if (Number(incoming.headers['content-length']) > bounds.maxBytes) return fail(tooLarge());
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > bounds.maxBytes) fail(tooLarge());
          else chunks.push(chunk);
        });
        incoming.on('end', () => {
          if (settle()) resolve({ url, status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        incoming.on('error', (cause) => fail(networkError(describe(method, url), cause)));
        incoming.on('close', () => {
          if (!incoming.complete) fail(networkError(describe(method, url), new Error('connection closed before the response ended')));
        });
      });
      try {
        for (const [name, value] of Object.entries(extra)) if (value !== undefined) request.setHeader(name, value);
      } catch (cause) {
        return fail(networkError(describe(method, url), cause));
      }
      request.end(body);
    });
  const request: OpenRequest = {
    send,
    cancel: () => outgoing?.destroy(),
    usable: () => {
      if (early === undefined) return request;
      request.cancel();
      return undefined;
    },
  };
  return request;
}
