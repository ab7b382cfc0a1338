import { beforeAll, describe, expect, it } from 'vitest';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';
import { useAuthenticator } from './use-authenticator.js';

// Envoy reads a header location as all its lines joined with "," (HeaderUtility
// getAllOfHeaderAsString), finds the prefix, and takes the base64url-and-dot run after it
// (jwt_authn/extractor.cc `extractJWT`): one token per location, ending at the first other
// character.
let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});

const authenticator = useAuthenticator();

const rules = (extra = '') =>
  rulesFrom(requestAuthentication(`  - issuer: a.example\n    jwks: ${yamlString(jwksOf(key))}\n${extra}`));

describe('a repeated token header', () => {
  it('verifies only the token of the first Authorization line', async () => {
    const first = await sign(key, { iss: 'a.example', sub: 'first' });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { authorization: [`Bearer ${first}`, 'Bearer not-a-jwt'] } }),
    );
    expect(r).toMatchObject({ kind: 'ok', principal: 'a.example/first' });
  });

  it('ends the token at the first character outside base64url and dot', async () => {
    const t = await sign(key, { iss: 'a.example', sub: 's' });
    const r = await authenticator().authenticate(
      rules(),
      request({ headers: { authorization: `Bearer ${t}; v=2` } }),
    );
    expect(r).toMatchObject({ kind: 'ok', principal: 'a.example/s' });
  });

  it('reads the joined lines of a header without prefix as one value', async () => {
    const t = await sign(key, { iss: 'a.example', sub: 's' });
    const r = await authenticator().authenticate(
      rules('    fromHeaders: [{ name: x-jwt }]\n'),
      request({ headers: { 'x-jwt': [t, t] } }),
    );
    expect(r).toMatchObject({
      kind: 'deny',
      status: 401,
      body: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
    });
  });
});
