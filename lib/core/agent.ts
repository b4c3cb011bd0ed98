import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type Socket } from 'node:net';

/**
 * How long an idle connection to Bitbucket is kept: 4 minutes. Most sign-ins to internal
 * tools come minutes apart, and Node's default (5 s) makes nearly every one of them pay for
 * new TCP and TLS handshakes. Bitbucket sends no `Keep-Alive` header announcing its own limit
 * (Node would honour one); should its edge close a connection first, the close reaches the
 * pool and the connection is dropped there. The TCP keep-alive probes Node sends on pooled
 * sockets keep NAT mappings open and find dead peers, and a GET of the profile stage that
 * meets a reset is retried. 4 minutes stays under common middlebox idle limits (AWS NAT
 * gateways: 350 s).
 */
export const IDLE_TIMEOUT = 4 * 60_000;
/** Connections per host at most, in use or idle; further requests queue for one. */
export const MAX_SOCKETS = 64;
const MAX_FREE_SOCKETS = 32;

type Create = (options: Record<string, unknown>, callback: (error: Error | null, socket: Socket) => void) => Socket | undefined;

/**
 * A keep-alive agent that can open connections ahead of the requests that will use them: a
 * connection opened by {@link Preconnecting.open} is handed to the next request for that host
 * that needs a new one, instead of opening another.
 */
class Preconnecting {
  /** Connections opened ahead, by host:port, not yet handed to a request. */
  readonly ready = new Map<string, Socket[]>();
  private readonly create: Create;

  constructor(readonly agent: http.Agent) {
    const holder = agent as unknown as { createConnection: Create };
    this.create = holder.createConnection.bind(agent);
    holder.createConnection = (options, callback) => {
      const socket = this.ready.get(key(String(options['host']), Number(options['port'])))?.shift();
      if (!socket) return this.create(options, callback);
      socket.ref();
      return socket;
    };
  }

  /** Opens `count` connections to `host:port` now; returns what discards those still unused. */
  open(host: string, port: number, count: number): () => void {
    const name = key(host, port);
    const mine: Socket[] = [];
    for (let i = 0; i < count; i += 1) {
      const options: Record<string, unknown> = { ...(this.agent as unknown as { options: object }).options, host, port, keepAlive: true, keepAliveInitialDelay: 1000 };
      if (!isIP(host)) options['servername'] = host;
      // The pool's name for the host, so that the TLS session is cached for its later connections.
      options['_agentKey'] = this.agent.getName(options as http.AgentOptions);
      const socket = this.create(options, () => undefined);
      if (!socket) continue;
      // Until a request takes it, a connection opened ahead holds nothing open.
      socket.unref();
      const drop = (): void => {
        const list = this.ready.get(name);
        const at = list ? list.indexOf(socket) : -1;
        if (list && at >= 0) list.splice(at, 1);
      };
      socket.once('error', drop);
      socket.once('close', drop);
      mine.push(socket);
      this.ready.set(name, [...(this.ready.get(name) ?? []), socket]);
    }
    return () => {
      const list = this.ready.get(name) ?? [];
      for (const socket of mine) {
        const at = list.indexOf(socket);
        if (at < 0) continue;
        list.splice(at, 1);
        socket.destroy();
      }
    };
  }

  destroy(): void {
    for (const list of this.ready.values()) for (const socket of list) socket.destroy();
    this.ready.clear();
    this.agent.destroy();
  }
}

function key(host: string, port: number): string {
  return `${host}:${port}`;
}

/**
 * The strategy's own connections to Bitbucket: a keep-alive agent per scheme (each keeps a
 * pool per host), and the means to open the API connections while the code is exchanged.
 */
export class ConnectionPool {
  private readonly agents: Record<'http:' | 'https:', Preconnecting>;

  constructor() {
    const options: http.AgentOptions = { keepAlive: true, timeout: IDLE_TIMEOUT, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' };
    this.agents = { 'https:': new Preconnecting(new https.Agent(options)), 'http:': new Preconnecting(new http.Agent(options)) };
  }

  /** The agent for a URL's scheme. */
  agentFor(protocol: string): http.Agent {
    return this.agents[protocol === 'http:' ? 'http:' : 'https:'].agent;
  }

  /**
   * Opens connections to the origin of `url` so that `count` requests can start on them at
   * once, less the idle ones the pool already holds; none while requests to that host are
   * under way (the quiet, cold case is the one it is for). Returns what discards those still
   * unused.
   */
  preconnect(url: string, count: number): () => void {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return () => undefined;
    }
    const agent = this.agents[target.protocol === 'http:' ? 'http:' : 'https:'];
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const port = Number(target.port) || (target.protocol === 'http:' ? 80 : 443);
    const onHost = (pool: NodeJS.ReadOnlyDict<unknown[]>): number =>
      Object.entries(pool).reduce((n, [name, list]) => n + (name.startsWith(`${host}:${port}:`) ? (list?.length ?? 0) : 0), 0);
    // A busy host frees connections before a token comes back: opening more then only churns.
    if (onHost(agent.agent.sockets) > 0) return () => undefined;
    const idle = onHost(agent.agent.freeSockets);
    const waiting = agent.ready.get(key(host, port))?.length ?? 0;
    const wanted = Math.min(count, MAX_SOCKETS) - idle - waiting;
    return wanted > 0 ? agent.open(host, port, wanted) : () => undefined;
  }

  /** Closes every connection, idle, in use or opened ahead. */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}
