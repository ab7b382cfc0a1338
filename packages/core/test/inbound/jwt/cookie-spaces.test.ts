import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';

// Envoy splits the Cookie header at ";" and trims only the spaces before a cookie's name;
// the name ends at "=" and the value runs to the ";" as written (http/utility.cc
// `forEachCookie`).
let key: TestKey;
let auth: JwtAuthenticator | null = null;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});
afterEach(() => auth?.close());

function authenticator(): JwtAuthenticator {
  auth = createJwtAuthenticator({ clock: createManualClock(Date.UTC(2025, 0, 1)) });
  return auth;
}

const rules = () =>
  rulesFrom(
    requestAuthentication(
      `  - issuer: a.example\n    jwks: ${yamlString(jwksOf(key))}\n    fromCookies: [session]\n`,
    ),
  );

describe('cookie token with spaces around it', () => {
  it('does not see a cookie whose name has a space before "="', async () => {
    const t = await sign(key, { iss: 'a.example', sub: 's' });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { cookie: `a=1; session =${t}` } }),
    );
    expect(r).toEqual({ kind: 'none' });
  });

  it('keeps a space before ";" in the token, which then fails to parse', async () => {
    const t = await sign(key, { iss: 'a.example', sub: 's' });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { cookie: `session=${t} ; a=1` } }),
    );
    expect(r).toMatchObject({
      kind: 'deny',
      status: 401,
      body: 'Jwt signature is an invalid Base64url encoded',
    });
  });
});
