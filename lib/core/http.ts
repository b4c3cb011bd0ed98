import * as http from 'node:http';
import * as https from 'node:https';
import { BitbucketError, BitbucketNetworkError, BitbucketResponseError, BitbucketTimeoutError } from './errors';

export interface HttpResponse {
  /** The URL the request went to. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: http.OutgoingHttpHeaders;
  body?: string | undefined;
  /** For messages, e.g. "GET https://api.bitbucket.org/2.0/user". */
  what: string;
  /** Ends the request with its reason: the login's deadline, a failed sibling request, `close()`. */
  signal: AbortSignal;
  agent: http.Agent | undefined;
  /** Milliseconds from the moment the request has a socket to the last byte of the body. */
  timeout: number;
  maxBytes: number;
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
 * One HTTP exchange on Node's own client, bounded in time and size. Its `timeout` starts when
 * the request has a socket, so time spent queued behind the agent's connection cap counts only
 * against the login's deadline (the signal). It always settles once and leaves no socket behind
 * on failure.
 */
export function send(request: HttpRequest): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const { signal, what } = request;
    if (signal.aborted) return reject(abortedError(what, signal));
    let outgoing: http.ClientRequest;
    try {
      // Every URL requested is an http(s) URL (the options and page links are checked).
      outgoing = (request.url.startsWith('https:') ? https : http).request(request.url, { method: request.method, headers: request.headers, agent: request.agent });
    } catch (cause) {
      // An unparsable URL, or a header Node refuses to send (a control character).
      return reject(networkError(what, cause));
    }
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
      outgoing.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(abortedError(what, signal));
    signal.addEventListener('abort', onAbort);
    outgoing.once('socket', () => {
      timer = setTimeout(() => {
        fail(new BitbucketTimeoutError(`${what} timed out: Bitbucket did not answer within ${request.timeout} ms`, { timeout: request.timeout, limit: 'request' }));
      }, request.timeout);
    });
    outgoing.on('error', (cause) => fail(networkError(what, cause)));
    outgoing.on('response', (incoming) => {
      const tooLarge = (): BitbucketResponseError =>
        new BitbucketResponseError(`${what}: Bitbucket's response is larger than ${request.maxBytes} bytes`, { code: 'BITBUCKET_RESPONSE_TOO_LARGE' });
      if (Number(incoming.headers['content-length']) > request.maxBytes) return fail(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBytes) fail(tooLarge());
        else chunks.push(chunk);
      });
      incoming.on('end', () => {
        if (settle()) resolve({ url: request.url, status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      incoming.on('error', (cause) => fail(networkError(what, cause)));
      incoming.on('close', () => {
        if (!incoming.complete) fail(networkError(what, new Error('connection closed before the response ended')));
      });
    });
    outgoing.end(request.body);
  });
}
