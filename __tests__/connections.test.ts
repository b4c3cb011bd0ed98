import { Agent } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Strategy, type StrategyOptions } from '../lib';
import { fixture, options, tokenBody } from './helpers/bitbucket';
import { expectType, signIn } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';
import { until } from './helpers/wait';

/** A Bitbucket of two hosts, as bitbucket.org and api.bitbucket.org are, counting connections. */
interface Hosts {
  site: TestServer;
  api: TestServer;
  /** Connections the API host had accepted when the token response was sent. */
  apiConnectionsAtToken: number[];
  apiConnections(): number;
  strategy(extra?: Partial<StrategyOptions>): Strategy;
}

let hosts: Hosts | undefined;
const strategies: Strategy[] = [];
afterEach(async () => {
  for (const strategy of strategies.splice(0)) strategy.close();
  await hosts?.site.close();
  await hosts?.api.close();
  hosts = undefined;
});

async function startHosts(token: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end(JSON.stringify(tokenBody()))): Promise<Hosts> {
  const apiConnectionsAtToken: number[] = [];
  const api = await startServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(req.url?.startsWith('/2.0/user/emails') ? fixture('emails.json') : fixture('user.json'));
  }, 60_000);
  const site = await startServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    // The token answer comes a moment later, as over a real network.
    setTimeout(() => {
      apiConnectionsAtToken.push(api.accepted());
      token(req, res);
    }, 50);
  }, 60_000);
  hosts = {
    site,
    api,
    apiConnectionsAtToken,
    apiConnections: () => api.accepted(),
    strategy: (extra = {}) => {
      const strategy = new Strategy(
        { ...options, tokenURL: `${site.url}/token`, userProfileURL: `${api.url}/2.0/user`, userEmailsURL: `${api.url}/2.0/user/emails`, ...extra },
        (_a, _r, profile, done) => done(null, { id: profile?.id ?? 'profile skipped' }),
      );
      strategies.push(strategy);
      return strategy;
    },
  };
  return hosts;
}

describe('connections to Bitbucket', () => {
  it('opens the API connections while the code is exchanged, one per concurrent request, and uses them', async () => {
    const bb = await startHosts();
    const { outcome } = await signIn(bb.strategy());
    expectType(outcome, 'success');
    // Both connections (user, emails) were open before the token arrived…
    expect(bb.apiConnectionsAtToken).toEqual([2]);
    // …and the two requests went out on them: no other connection was made.
    expect(bb.apiConnections()).toBe(2);
    expect(bb.api.requests.map((r) => r.url).sort()).toEqual(['/2.0/user', '/2.0/user/emails?pagelen=100']);
  });

  it('keeps them for the next login, which opens nothing new', async () => {
    const bb = await startHosts();
    const strategy = bb.strategy();
    expectType((await signIn(strategy)).outcome, 'success');
    expectType((await signIn(strategy)).outcome, 'success');
    expect(bb.apiConnectionsAtToken).toEqual([2, 2]);
    expect(bb.apiConnections()).toBe(2);
    expect(bb.api.requests).toHaveLength(4);
  });

  it('keeps idle connections past Node\'s default 5 s, and close() closes them', async () => {
    const bb = await startHosts();
    const strategy = bb.strategy({ skipEmails: true });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(bb.api.openSockets()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    expect(bb.api.openSockets()).toBe(1);
    expectType((await signIn(strategy)).outcome, 'success');
    expect(bb.apiConnections()).toBe(1);
    strategy.close();
    await until(() => bb.api.openSockets() === 0 && bb.site.openSockets() === 0, 'the idle connections to close');
  }, 15_000);

  it('opens nothing ahead when the profile is skipped', async () => {
    const bb = await startHosts();
    const strategy = bb.strategy({ skipUserProfile: true });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(bb.apiConnectionsAtToken).toEqual([0]);
    expect(bb.apiConnections()).toBe(0);
  });

  it('closes the connections opened ahead when the token request fails', async () => {
    const bb = await startHosts((_req, res) => {
      res.statusCode = 400;
      res.end('{"error":"invalid_grant","error_description":"gone"}');
    });
    expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(bb.apiConnectionsAtToken).toEqual([2]);
    await until(() => bb.api.openSockets() === 0, 'the unused API connections to close');
    expect(bb.api.requests).toHaveLength(0);
  });

  it('uses the app\'s own agent when given one, and opens nothing ahead', async () => {
    const bb = await startHosts();
    const agent = new Agent({ keepAlive: true });
    try {
      const created: unknown[] = [];
      const original = agent.createConnection.bind(agent);
      agent.createConnection = ((...args: Parameters<typeof original>) => {
        created.push(args[0]);
        return original(...args);
      }) as typeof agent.createConnection;
      expectType((await signIn(bb.strategy({ agent }))).outcome, 'success');
      expect(bb.apiConnectionsAtToken).toEqual([0]);
      // The token request and the two API requests, all on the app's agent.
      expect(created).toHaveLength(3);
    } finally {
      agent.destroy();
    }
  });

  it('refuses an agent that is not one', () => {
    expect(() => new Strategy({ ...options, agent: {} } as unknown as StrategyOptions, () => undefined)).toThrow(/options\.agent must be an http\.Agent or https\.Agent/);
  });
});
