import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBitbucketDataCenterEmulator, startBitbucketEmulator, type BitbucketEmulator, type EmulatorOptions } from '../../lib/testing';
import { browser } from '../../support/browser';

// The demo is plain JavaScript, loaded as an app would load it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createApp } = require('../../example/app') as { createApp: (config: Record<string, unknown>) => (req: unknown, res: unknown) => void };

export interface Demo {
  url: string;
  emulator: BitbucketEmulator;
  close(): Promise<void>;
}

/** Starts the emulator and the demo app on free loopback ports, wired to each other. */
export async function startDemo(emulatorOptions: EmulatorOptions = {}, appConfig: Record<string, unknown> = {}, withDataCenter = false): Promise<Demo> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const emulator = await startBitbucketEmulator({ callbackURL: `${url}/auth/bitbucket/callback`, ...emulatorOptions });
  const dataCenter = withDataCenter ? await startBitbucketDataCenterEmulator({ callbackURL: `${url}/auth/bitbucket-dc/callback` }) : undefined;
  const app = createApp({
    baseURL: url,
    emulator: true,
    ...emulator.strategyOptions,
    timeout: 2000,
    ...(dataCenter ? { dataCenter: dataCenter.strategyOptions } : {}),
    ...appConfig,
  });
  server.on('request', app);
  return {
    url,
    emulator,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await emulator.close();
      await dataCenter?.close();
    },
  };
}

export interface Page {
  status: number;
  location: string | undefined;
  body: string;
  url: string;
}

/** A cookie-keeping HTTP client that follows nothing by itself: each hop is visible. */
export class Browser {
  private readonly request: ReturnType<typeof browser>;

  /**
   * @param sameSite hosts that are one site to this browser (instances behind one load
   *   balancer): they share cookies.
   */
  constructor(sameSite: readonly string[] = []) {
    this.request = browser({ sameSite: [...sameSite] });
  }

  get(url: string): Promise<Page> {
    return this.send(url);
  }

  post(url: string, form: Record<string, string>): Promise<Page> {
    return this.send(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }

  /** Follows redirects from `url` until a page that is not a redirect, returning every hop. */
  async follow(url: string, limit = 10): Promise<Page[]> {
    const hops: Page[] = [];
    let next: string | undefined = url;
    while (next !== undefined && hops.length < limit) {
      const page: Page = await this.get(next);
      hops.push(page);
      next = page.location === undefined ? undefined : new URL(page.location, page.url).href;
    }
    return hops;
  }

  private async send(url: string, init?: Parameters<ReturnType<typeof browser>>[1]): Promise<Page> {
    const page = await this.request(url, init);
    return { ...page, location: page.location ?? undefined };
  }
}

/** The hidden inputs and the button of the consent page's form for one account (or Deny). */
export function consentForm(html: string, user: string | 'deny'): Record<string, string> {
  const forms = html.match(/<form[\s\S]*?<\/form>/g) ?? [];
  const form = forms.find((f) => (user === 'deny' ? f.includes('data-deny') : f.includes(`data-user="${user}"`)));
  if (!form) throw new Error(`no consent form for ${user}`);
  const fields: Record<string, string> = {};
  for (const [, name, value] of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[name!] = decodeEntities(value!);
  }
  fields['decision'] = user === 'deny' ? 'deny' : 'grant';
  return fields;
}

function decodeEntities(text: string): string {
  return text.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
}

/** Signs in through the demo and the emulator's consent page, up to the callback's answer. */
export async function signInThroughDemo(demo: Demo, browser: Browser, user: string | 'deny' = 'ada-lovelace'): Promise<{ callback: string; final: Page }> {
  const start = await browser.get(`${demo.url}/auth/bitbucket`);
  if (start.status !== 302 || !start.location) throw new Error(`sign-in did not redirect: ${start.status}`);
  const consent = await browser.get(start.location);
  if (consent.status !== 200) throw new Error(`consent page answered ${consent.status}`);
  const decision = await browser.post(demo.emulator.authorizationURL, consentForm(consent.body, user));
  if (decision.status !== 302 || !decision.location) throw new Error(`consent did not redirect: ${decision.status}`);
  const hops = await browser.follow(decision.location);
  return { callback: decision.location, final: hops[hops.length - 1]! };
}
