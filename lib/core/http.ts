import * as http from 'node:http';
import * as https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { BitbucketError, BitbucketNetworkError, BitbucketResponseError, BitbucketTimeoutError, safeURL } from './errors';

/** An answer, with the URL the request went to. */
export interface HttpResponse { url: string; status: number; headers: http.IncomingHttpHeaders; body: string }

/** A request's bounds: milliseconds from the moment it is sent and has a socket to its last byte, and bytes of body. */
export interface Bounds { timeout: number; maxBytes: number }

/** A request made but not sent: the agent finds or opens its connection meanwhile; nothing reaches Bitbucket before `send`. */
export interface OpenRequest {
  /** Adds `authorization` (a request opened ahead: its token), sends `body` and reads the answer; settles once. */
  send(authorization: string | undefined, body: string | undefined, signal: AbortSignal, bounds: Bounds): Promise<HttpResponse>;
  /** Drops the request unsent, with its connection. */
  cancel(): void;
  /** The request, unless its connection failed before it was sent (then it is dropped). */
  usable(): OpenRequest | undefined;
}

/** The error of a request its signal ended: the signal's reason when it is one of ours. */
export function abortedError(method: string, url: string, signal: AbortSignal): Error {
  return signal.reason instanceof BitbucketError ? signal.reason : networkError(method, url, signal.reason);
}

function networkError(method: string, url: string, cause: unknown): BitbucketNetworkError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BitbucketNetworkError(`${method} ${safeURL(url)} failed: could not reach Bitbucket (${reason})`, { cause });
}

/** Where a request to `url` goes, as Node's client takes it (plain options are its fast path); throws for an invalid URL. */
export function target(url: string) {
  const { protocol, hostname, port, path } = urlToHttpOptions(new URL(url));
  return { protocol, hostname, port, path };
}
export type Target = ReturnType<typeof target>;

/**
 * Makes a request on Node's own client without sending it. Its `timeout` starts once it is sent and has a socket: time queued
 * behind the agent's cap counts only against the login's deadline (the signal). It leaves no socket behind on failure.
 */
export function open(method: 'GET' | 'POST', url: string, headers: http.OutgoingHttpHeaders, agent: http.Agent, to?: Target): OpenRequest {
  let outgoing: http.ClientRequest;
  try {
    // Every URL here is http(s) without credentials (the options and page links are checked).
    const { protocol, hostname, port, path } = to ?? target(url);
    outgoing = (protocol === 'https:' ? https : http).request({ protocol, hostname, port, path, method, headers, agent });
  } catch (cause) {
    // An unparsable URL, or a header Node refuses to send.
    const nothing = (): undefined => undefined;
    return { send: () => Promise.reject(networkError(method, url, cause)), cancel: nothing, usable: nothing };
  }
  const request = outgoing;
  let early: unknown;
  let onError = (cause: unknown): void => void (early ??= cause);
  let hasSocket = false;
  let onSocket = (): void => void (hasSocket = true);
  request.on('error', (cause) => onError(cause));
  request.on('socket', () => onSocket());
  const send: OpenRequest['send'] = (authorization, body, signal, { timeout, maxBytes }) =>
    new Promise<HttpResponse>((resolve, reject) => {
      if (signal.aborted || early !== undefined) {
        request.destroy();
        return reject(signal.aborted ? abortedError(method, url, signal) : networkError(method, url, early));
      }
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (error: Error | undefined, response?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (error) request.destroy();
        return error ? reject(error) : resolve(response!);
      };
      const fail = (cause: unknown): void => settle(cause instanceof BitbucketError ? cause : networkError(method, url, cause));
      const onAbort = (): void => settle(abortedError(method, url, signal));
      signal.addEventListener('abort', onAbort);
      onError = fail;
      const timedOut = (): void => {
        const message = `${method} ${safeURL(url)} timed out: Bitbucket did not answer within ${timeout} ms`;
        fail(new BitbucketTimeoutError(message, { timeout, limit: 'request' }));
      };
      onSocket = (): void => void (timer = setTimeout(timedOut, timeout));
      // The socket may have come while the request waited to be sent.
      if (hasSocket) onSocket();
      request.on('response', (incoming) => {
        const tooLarge = (): void => {
          const message = `${method} ${safeURL(url)}: Bitbucket's response is larger than ${maxBytes} bytes`;
          fail(new BitbucketResponseError(message, { code: 'BITBUCKET_RESPONSE_TOO_LARGE' }));
        };
        const announced = Number(incoming.headers['content-length']);
        if (announced > maxBytes) return tooLarge();
        // The first chunk as it came (most answers are one), then one growing buffer: a body in 1-byte chunks costs no object a byte.
        let first: Buffer | undefined, received: Buffer | undefined, size = 0;
        incoming.on('data', (chunk: Buffer) => {
          if ((size += chunk.length) > maxBytes) return tooLarge();
          if (!first) return void (first = chunk);
          const held = received ?? first;
          if (!received || size > held.length) received = Buffer.concat([held], Math.min(maxBytes, Math.max(size, 2 * held.length)));
          chunk.copy(received, size - chunk.length);
        });
        incoming.on('end', () => {
          const text = (received ?? first)?.toString('utf8', 0, size) ?? '';
          settle(undefined, { url, status: Number(incoming.statusCode), headers: incoming.headers, body: text });
        });
        incoming.on('error', fail);
        incoming.on('close', () => incoming.complete || fail(new Error('connection closed before the response ended')));
      });
      // Only a checked token comes here (the other headers were given to Node when it was made).
      if (authorization) request.setHeader('Authorization', authorization);
      request.end(body);
      // NOTE: Node's agent keeps the options of a socket's first request (its headers too) for the socket's life: written, a token leaves them.
      delete headers['Authorization'];
    });
  const opened: OpenRequest = { send, cancel: () => void request.destroy(), usable: () => (early === undefined ? opened : void request.destroy()) };
  return opened;
}
