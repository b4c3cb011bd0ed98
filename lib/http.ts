import * as http from 'node:http';
import * as https from 'node:https';
import {
  BitbucketNetworkError,
  BitbucketResponseError,
  BitbucketTimeoutError,
} from './errors';

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
  cancel?: Cancellation | undefined;
  agent?: http.Agent | boolean | undefined;
}

/**
 * Cancels a group of requests at once: when one of a login's concurrent requests fails, the
 * others stop. (Lighter than an AbortSignal per request, which this hot path would pay for
 * on every login.)
 */
export class Cancellation {
  private readonly callbacks = new Set<() => void>();
  private done = false;

  get cancelled(): boolean {
    return this.done;
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    for (const callback of this.callbacks) callback();
    this.callbacks.clear();
  }

  /** Calls `callback` on cancel; returns a function that stops that. */
  onCancel(callback: () => void): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  response: http.IncomingMessage;
}

/**
 * One HTTP exchange, bounded in time (a single deadline for headers and body together, so a
 * slow drip ends too) and in size. It always settles, exactly once, and leaves no socket
 * behind on failure.
 */
export function send(request: HttpRequest, limits: HttpLimits): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(request.url);
    } catch (cause) {
      reject(new BitbucketNetworkError(request.what, cause));
      return;
    }
    const transport =
      target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!transport) {
      reject(new BitbucketNetworkError(request.what, new Error(`unsupported protocol ${target.protocol}`)));
      return;
    }
    if (request.cancel?.cancelled) {
      reject(new BitbucketNetworkError(request.what, new Error('request aborted')));
      return;
    }

    let settled = false;
    const headers: http.OutgoingHttpHeaders = { ...request.headers };
    if (request.body !== undefined) headers['Content-Length'] = Buffer.byteLength(request.body);
    const host = target.hostname;
    const options: https.RequestOptions = {
      protocol: target.protocol,
      hostname: host.startsWith('[') ? host.slice(1, -1) : host,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: request.method,
      headers,
    };
    if (request.agent !== undefined) options.agent = request.agent;

    const outgoing = transport.request(options, (incoming) => {
      const declared = Number(incoming.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        fail(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) {
          fail(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      incoming.on('end', () => {
        finish(() =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            response: incoming,
          }),
        );
      });
      incoming.on('error', (cause) => fail(new BitbucketNetworkError(request.what, cause)));
      incoming.on('close', () => {
        if (!incoming.complete) {
          fail(new BitbucketNetworkError(request.what, new Error('connection closed before the response ended')));
        }
      });
    });

    const timer = setTimeout(() => fail(new BitbucketTimeoutError(request.what, limits.timeout)), limits.timeout);
    const stopListening = request.cancel?.onCancel(() =>
      fail(new BitbucketNetworkError(request.what, new Error('request aborted'))),
    );
    outgoing.on('error', (cause) => fail(new BitbucketNetworkError(request.what, cause)));
    outgoing.end(request.body);

    function tooLarge(): BitbucketResponseError {
      return new BitbucketResponseError(
        `${request.what}: Bitbucket's response is larger than ${limits.maxBytes} bytes`,
        'BITBUCKET_RESPONSE_TOO_LARGE',
      );
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

/**
 * Hands a promise's outcome to a Node-style callback outside the promise chain, so that a
 * callback which throws surfaces as an ordinary exception rather than an unhandled rejection.
 */
export function settle<T>(promise: Promise<T>, callback: (error: unknown, value?: T) => void): void {
  promise.then(
    (value) => process.nextTick(callback, null, value),
    (error: unknown) => process.nextTick(callback, error),
  );
}
