import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';

// Envoy's extractor keeps header locations in a std::map keyed by name + prefix, so it yields
// their tokens in that order whatever order fromHeaders lists them in (jwt_authn extractor.cc
// `header_locations_`); the authenticator checks the last first, so the first one's payload is
// the request's.
const NOW_MS = Date.UTC(2025, 0, 1);
const NOW = NOW_MS / 1000;

let key: TestKey;
let auth: JwtAuthenticator | null = null;
beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
});
afterEach(() => auth?.close());

function authenticator(): JwtAuthenticator {
  auth = createJwtAuthenticator({ clock: createManualClock(NOW_MS) });
  return auth;
}

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
