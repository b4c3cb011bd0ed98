import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import session from 'express-session';
import { Strategy, type Profile, type StrategyOptions } from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { Browser, consentForm } from './helpers/demo';
import { freePort } from './helpers/server';

const BITBUCKET_OPTIONS = 'BITBUCKET_OPTIONS';

// What README's NestJS section shows.
@Injectable()
class BitbucketAuthStrategy extends PassportStrategy(Strategy, 'bitbucket') {
  constructor(@Inject(BITBUCKET_OPTIONS) options: StrategyOptions) {
    super(options);
  }

  async validate(_accessToken: string, _refreshToken: string, profile: Profile): Promise<{ id: string; name: string; email: string | undefined }> {
    if (profile.displayName === 'Edsger Dijkstra') return Promise.reject(new Error('blocked in validate'));
    return { id: profile.id, name: profile.displayName, email: profile.emails[0]?.value };
  }
}

@Controller('auth/bitbucket')
class AuthController {
  @Get()
  @UseGuards(AuthGuard('bitbucket'))
  login(): void {
    // The guard redirects to Bitbucket.
  }

  @Get('callback')
  @UseGuards(AuthGuard('bitbucket'))
  callback(@Req() req: Request): unknown {
    return { user: req.user };
  }
}

describe('NestJS (@nestjs/passport)', () => {
  let app: INestApplication;
  let bitbucket: BitbucketEmulator;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    bitbucket = await startBitbucketEmulator({ callbackURL: `${base}/auth/bitbucket/callback` });
    const options: StrategyOptions = { ...bitbucket.strategyOptions, callbackURL: `${base}/auth/bitbucket/callback` };

    @Module({
      imports: [PassportModule],
      controllers: [AuthController],
      providers: [BitbucketAuthStrategy, { provide: BITBUCKET_OPTIONS, useValue: options }],
    })
    class AppModule {}

    app = await NestFactory.create(AppModule, { logger: false });
    app.use(session({ secret: 'nest-test', resave: false, saveUninitialized: false }));
    await app.listen(port, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await bitbucket?.close();
  });

  async function signIn(user: string): Promise<{ status: number; body: string }> {
    const browser = new Browser();
    const start = await browser.get(`${base}/auth/bitbucket`);
    expect(start.status).toBe(302);
    expect(start.location?.startsWith(bitbucket.authorizationURL)).toBe(true);
    const consent = await browser.get(start.location!);
    const decision = await browser.post(bitbucket.authorizationURL, consentForm(consent.body, user));
    const callback = await browser.get(decision.location!);
    return { status: callback.status, body: callback.body };
  }

  it('signs in through PassportStrategy(Strategy, "bitbucket") and validate()', async () => {
    const result = await signIn('ada-lovelace');
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({
      user: { id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}', name: 'Ada Lovelace', email: 'ada@example.com' },
    });
    expect(bitbucket.stats).toMatchObject({ token: 1, user: 1, emails: 1 });
  });

  it('answers 401 when the user denies access', async () => {
    expect((await signIn('deny')).status).toBe(401);
  });

  it('turns a validate() rejection into an error response, not a crash', async () => {
    expect((await signIn('ewd')).status).toBe(500);
  });
});
