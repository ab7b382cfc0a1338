import { beforeAll, describe, expect, it } from 'vitest';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';
import { useAuthenticator } from './use-authenticator.js';

// Envoy splits the Cookie header at ";" and trims only the spaces before a cookie's name;
// the name ends at "=" and the value runs to the ";" as written (http/utility.cc
// `forEachCookie`).
let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});

const authenticator = useAuthenticator();

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
