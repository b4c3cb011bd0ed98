import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What both emulators share: reading requests, writing Bitbucket-looking answers, seeded draws. */

export const MAX_FORM_BYTES = 64 * 1024;

/** A PRNG (mulberry32) that repeats its sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function isLoopback(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return (protocol === 'http:' || protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  } catch {
    return false;
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(req));
}

export function clampInt(value: string | null, fallback: number, min: number, max: number): number {
  const n = value === null ? NaN : Number.parseInt(value, 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function redirect(res: ServerResponse, target: string, params: Record<string, string | null>): void {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, value);
  res.writeHead(302, { Location: url.href, 'Content-Length': 0 });
  res.end();
}

export function sendPage(res: ServerResponse, status: number, title: string, body: string): void {
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Bitbucket emulator</title>` +
    `<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#172b4d}` +
    `button{font-size:1rem;padding:.4rem .8rem;margin:.2rem 0;cursor:pointer}li{list-style:none;margin:.4rem 0}` +
    `header{color:#0052cc;font-weight:bold}</style></head><body><header>Bitbucket (local emulator)</header>` +
    `<h1>${escapeHtml(title)}</h1>${body.startsWith('<') ? body : `<p>${escapeHtml(body)}</p>`}</body></html>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) });
  res.end(html);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A misbehaviour for one endpoint. `times` limits it to that many requests (default: all);
 * `probability` applies it to that share of requests (default 1).
 * - `status`: answer this status, with `body` (default: Bitbucket's error JSON) and `contentType`.
 * - `stall`: accept the request and never answer.
 * - `reset`: send the headers and half a body, then drop the connection.
 * - `drip`: send a 200 and then one byte every `intervalMs` (default 50), forever.
 * - `truncate`: a 200 whose JSON body stops half way.
 * - `oversize`: a 200 with a body of `bytes` (default 2 MiB).
 */
export type EmulatorFault = { times?: number; probability?: number } & (
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  | { kind: 'stall' | 'reset' | 'truncate' }
  | { kind: 'drip'; intervalMs?: number }
  | { kind: 'oversize'; bytes?: number }
);

/**
 * The faults of an emulator's endpoints, applied as requests come: a fault, or a list each
 * request draws one from, with its `times` and `probability`.
 */
export class Faults<E extends string> {
  private readonly configured = new Map<E, EmulatorFault | EmulatorFault[]>();
  private readonly uses = new Map<E, number>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    initial: Partial<Record<E, EmulatorFault | EmulatorFault[]>> | undefined,
    private readonly random: () => number,
    /** The product's error body for an emulated status. */
    private readonly errorBody: (status: number) => unknown,
  ) {
    for (const [endpoint, fault] of Object.entries(initial ?? {}) as Array<[E, EmulatorFault | EmulatorFault[] | undefined]>) {
      if (fault) this.configured.set(endpoint, fault);
    }
  }

  /** Sets (or with `undefined` clears) the fault of an endpoint. */
  set(endpoint: E, fault: EmulatorFault | EmulatorFault[] | undefined): void {
    if (fault) this.configured.set(endpoint, fault);
    else this.configured.delete(endpoint);
    this.uses.set(endpoint, 0);
  }

  /** Answers `res` with the endpoint's fault, when one applies to this request. */
  apply(endpoint: E, res: ServerResponse): boolean {
    const configured = this.configured.get(endpoint);
    const fault: EmulatorFault | undefined = Array.isArray(configured) ? configured[Math.floor(this.random() * configured.length)] : configured;
    if (!fault) return false;
    const used = this.uses.get(endpoint) ?? 0;
    if (fault.times !== undefined && used >= fault.times) return false;
    if (fault.probability !== undefined && this.random() >= fault.probability) return false;
    this.uses.set(endpoint, used + 1);
    switch (fault.kind) {
      case 'status':
        res.writeHead(fault.status, { 'Content-Type': fault.contentType ?? 'application/json' });
        res.end(fault.body ?? JSON.stringify(this.errorBody(fault.status)));
        return true;
      case 'stall':
        return true;
      case 'reset': {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 4096 });
        res.write('{"type": "user", "uuid": "{');
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          res.socket?.destroy();
        }, 5);
        this.timers.add(timer);
        return true;
      }
      case 'truncate': {
        const body = '{"type": "user", "display_name": "Trunc';
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return true;
      }
      case 'drip': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const interval = setInterval(() => res.write(' '), fault.intervalMs ?? 50);
        res.on('close', () => clearInterval(interval));
        return true;
      }
      case 'oversize': {
        const size = fault.bytes ?? 2 * 1024 * 1024;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`{"values": ["${'x'.repeat(Math.max(0, size - 16))}"]}`);
        return true;
      }
    }
  }

  /** Stops the timers of faults under way. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/**
 * An emulator's HTTP server on 127.0.0.1: tracks its connections and the timers of delayed
 * answers, so that `close()` leaves nothing behind.
 */
export class LoopbackServer {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    this.server = createServer(handler);
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `port` (0: any free one); resolves with `http://127.0.0.1:<port>`. */
  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Runs `fn` now, or after `ms` when that is more than 0. */
  later(fn: () => void, ms: number): void {
    if (ms <= 0) return fn();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Connections open right now (in use or idle keep-alive). */
  connections(): number {
    return this.sockets.size;
  }

  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One account's button on a consent page. */
export interface ConsentAccount {
  /** What the form posts as `user`. */
  value: string;
  /** What the button's `data-user` says (tests click it by that). */
  id: string;
  label: string;
  note?: string;
}

/**
 * The consent page's forms: one Grant button per account and a Deny button, each posting the
 * authorize request's own parameters back to `action`.
 */
export function consentForms(action: string, params: URLSearchParams, names: readonly string[], accounts: readonly ConsentAccount[]): { accounts: string; deny: string } {
  const hidden = names
    .filter((name) => params.has(name))
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
    .join('');
  const list = accounts
    .map(
      (a) =>
        `<li><form method="post" action="${action}">${hidden}<input type="hidden" name="user" value="${escapeHtml(a.value)}">` +
        `<button name="decision" value="grant" data-user="${escapeHtml(a.id)}">${escapeHtml(a.label)}</button>${a.note ? ` <small>${escapeHtml(a.note)}</small>` : ''}</form></li>`,
    )
    .join('');
  return { accounts: `<ul>${list}</ul>`, deny: `<form method="post" action="${action}">${hidden}<button name="decision" value="deny" data-deny>Deny</button></form>` };
}

/** An avatar image for an emulator account: its initials on a colour derived from `key`. */
export function sendAvatar(res: ServerResponse, key: string, displayName: string | undefined): void {
  const initials = (displayName ?? '?')
    .split(/\s+/)
    .map((w) => w[0] ?? '')
    .join('')
    .slice(0, 2);
  const hue = parseInt(createHash('sha256').update(key).digest('hex').slice(0, 2), 16);
  res.writeHead(200, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'max-age=3600' });
  res.end(
    `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" rx="64" fill="hsl(${hue},55%,45%)"/>` +
      `<text x="64" y="78" font-family="sans-serif" font-size="44" fill="#fff" text-anchor="middle">${escapeHtml(initials)}</text></svg>`,
  );
}
