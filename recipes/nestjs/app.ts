// Sign in with Bitbucket in a NestJS 11 app, with @nestjs/passport (TypeScript strict, CommonJS).
// Build: npx tsc; run: BITBUCKET_CLIENT_ID=… BITBUCKET_CLIENT_SECRET=… SESSION_SECRET=… node app.js
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Req, Res, UseGuards, type DynamicModule, type ExecutionContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import type { Request, Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import { BitbucketStrategy, type Profile, type StrategyOptions } from 'passport-bitbucket-auth';

const OPTIONS = 'BITBUCKET_OPTIONS';

interface User {
  id: string;
  name: string;
  email: string | undefined;
}

@Injectable()
export class BitbucketAuthStrategy extends PassportStrategy(BitbucketStrategy, 'bitbucket') {
  constructor(@Inject(OPTIONS) options: StrategyOptions) {
    super({ callbackURL: '/auth/bitbucket/callback', ...options });
  }

  // Return the user, or throw (e.g. UnauthorizedException) to refuse the login.
  validate(_accessToken: string, _refreshToken: string, profile: Profile): User {
    return { id: profile.id, name: profile.displayName, email: profile.emails[0]?.value };
  }
}

/** AuthGuard that also keeps the signed-in user in the session (Nest leaves that to you). */
@Injectable()
export class BitbucketGuard extends AuthGuard('bitbucket') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const allowed = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest<Request>());
    return allowed;
  }
}

@Controller()
export class AuthController {
  @Get('login')
  login(): string {
    return '<a href="/auth/bitbucket">Sign in with Bitbucket</a>';
  }

  @Get('auth/bitbucket')
  @UseGuards(BitbucketGuard)
  signIn(): void {} // redirects to Bitbucket

  @Get('auth/bitbucket/callback')
  @UseGuards(BitbucketGuard)
  callback(@Res() res: Response): void {
    res.redirect('/profile');
  }

  @Get('profile')
  profile(@Req() req: Request, @Res() res: Response): void {
    if (req.user) res.json(req.user);
    else res.redirect('/login');
  }
}

@Module({})
export class AppModule {
  static forRoot(options: StrategyOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [PassportModule],
      controllers: [AuthController],
      providers: [{ provide: OPTIONS, useValue: options }, BitbucketAuthStrategy],
    };
  }
}

/** Starts the app on `port`; `options` are the strategy's (tests add the emulator's URLs). */
export async function start(port: number, options: StrategyOptions): Promise<{ close(): Promise<void> }> {
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  const app = await NestFactory.create(AppModule.forRoot(options), { logger: false });
  // Sessions keep the login's state and PKCE verifier, then the signed-in user.
  app.use(session({ secret: process.env['SESSION_SECRET'] ?? 'change-me', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  await app.listen(port, '127.0.0.1');
  return { close: () => app.close() };
}

if (require.main === module) {
  start(Number(process.env['PORT'] ?? 3000), {
    clientID: process.env['BITBUCKET_CLIENT_ID'] ?? '',
    clientSecret: process.env['BITBUCKET_CLIENT_SECRET'] ?? '',
  }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
