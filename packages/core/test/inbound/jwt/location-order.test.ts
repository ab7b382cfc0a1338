import { beforeAll, describe, expect, it } from 'vitest';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';
import { NOW_MS, useAuthenticator } from './use-authenticator.js';

// Envoy's extractor keeps header locations in a std::map keyed by name + prefix, so it yields
// their tokens in that order whatever order fromHeaders lists them in (jwt_authn extractor.cc
// `header_locations_`); the authenticator checks the last first, so the first one's payload is
// the request's.
const NOW = NOW_MS / 1000;

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});

const authenticator = useAuthenticator();

const rules = () =>
  rulesFrom(
    requestAuthentication(
      `  - issuer: a.example\n    jwks: ${yamlString(jwksOf(key))}\n    fromHeaders: [{ name: x-z }, { name: x-a }]\n`,
    ),
  );

describe('two header locations of one rule', () => {
  it('takes the principal of the header first by name', async () => {
    const z = await sign(key, { iss: 'a.example', sub: 'zed' });
    const a = await sign(key, { iss: 'a.example', sub: 'ann' });
    const r = await authenticator().authenticate(rules(), request({ headers: { 'x-z': z, 'x-a': a } }));
    expect(r).toMatchObject({ kind: 'ok', principal: 'a.example/ann' });
  });

  it('reports the failure of the header last by name, checked first', async () => {
    const z = await sign(key, { iss: 'a.example', sub: 'zed', nbf: NOW + 3600 });
    const a = await sign(key, { iss: 'a.example', sub: 'ann', exp: NOW - 3600 });
    const r = await authenticator().authenticate(rules(), request({ headers: { 'x-z': z, 'x-a': a } }));
    expect(r).toMatchObject({ kind: 'deny', body: 'Jwt not yet valid' });
  });
});
