import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
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
   * Ends the request when aborted: with the signal's reason if it is one of this package's
   * errors (the login's deadline), else as a network error. One controller serves all the
   * requests of a login's profile stage.
   */
  signal?: AbortSignal | undefined;
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

/** The error of a request cut short by its signal. */
function abortedError(what: string, reason: unknown): Error {
  return reason instanceof BitbucketTimeoutError ? reason : networkError(what, reason instanceof Error ? reason : new Error('request aborted'));
}

/**
 * One HTTP exchange, bounded in time (a single deadline for headers and body together, so a
 * slow drip ends too) and in size. It always settles, exactly once, and leaves no socket
 * behind on failure.
 */
export function send(request: HttpRequest, limits: HttpLimits): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const { signal } = request;
    if (signal?.aborted) return reject(abortedError(request.what, signal.reason));
    let outgoing: http.ClientRequest;
    try {
      const url = new URL(request.url);
      const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!transport) throw new Error(`unsupported protocol ${url.protocol}`);
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = value;
      if (request.body !== undefined) headers['Content-Length'] = Buffer.byteLength(request.body);
      const options: https.RequestOptions = { method: request.method, headers };
      if (request.agent) options.agent = request.agent;
      outgoing = transport.request(url, options, onResponse);
    } catch (cause) {
      // An unparsable URL, or a header Node refuses to send (a control character): no request left.
      return reject(networkError(request.what, cause));
    }

    let settled = false;
    const timer = setTimeout(
      () => fail(new BitbucketTimeoutError(`${request.what} timed out: Bitbucket did not answer within ${limits.timeout} ms`, { timeout: limits.timeout, limit: 'request' })),
      limits.timeout,
    );
    const onAbort = (): void => fail(abortedError(request.what, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
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
      signal?.removeEventListener('abort', onAbort);
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

/** Resolves after `ms`, or rejects with the signal's reason as soon as it is aborted. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
}
