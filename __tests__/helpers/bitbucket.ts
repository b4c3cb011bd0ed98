import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

export const fixture = (name: string): string => readFileSync(join(__dirname, '..', '..', 'support', 'fixtures', name), 'utf8');
export const fixtureJson = (name: string): Record<string, unknown> => JSON.parse(fixture(name)) as Record<string, unknown>;

export const CLIENT_ID = 'consumer-key-123';
export const CLIENT_SECRET = 'consumer-secret-SHOULD-NEVER-LEAK';
export const ACCESS_TOKEN = 'access-token-SHOULD-NEVER-LEAK';
export const REFRESH_TOKEN = 'refresh-token-SHOULD-NEVER-LEAK';
export const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

export const options = { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: 'https://app.example.com/auth/bitbucket/callback' };

export function tokenBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...fixtureJson('token.json'), access_token: ACCESS_TOKEN, refresh_token: REFRESH_TOKEN, ...extra };
}

/** Fails the test when a secret or a token appears anywhere in a value, its stack or its cause chain. */
export function expectNoSecrets(value: unknown): void {
  const seen = [inspect(value, { depth: 20, showHidden: true }), String(value)];
  try {
    seen.push(JSON.stringify(value) ?? '');
  } catch {
    // circular: inspect above covers it
  }
  if (value instanceof Error) seen.push(value.stack ?? '', value.message);
  const text = seen.join('\n');
  for (const secret of [CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')]) {
    expect(text).not.toContain(secret);
  }
}
