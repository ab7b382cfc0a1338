import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import { useJwksServer } from './jwks-server.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import {
  bearer,
  DEMO_JWT,
  GROUPS_SCOPE_JWT,
  request,
  requestAuthentication,
  rulesFrom,
  SAMPLE_ISSUER,
  SAMPLE_JWKS,
} from './helpers.js';

// istiod's periodic refresh stores whatever a 2xx answer carries and pushes it when it parses
// as JSON and differs (pilot/pkg/model/jwks_resolver.go `refresh`, `compareJWKSResponse`); a
// JWKS without a usable key then replaces the good one, and Envoy refuses every token with
// "Jwks doesn't have any valid public key".
let body = SAMPLE_JWKS;
let auth: JwtAuthenticator | null = null;
afterEach(() => {
  auth?.close();
  body = SAMPLE_JWKS;
});

const jwksUri = useJwksServer(() => ({ status: 200, body }));

describe('a JWKS refresh that answers keys none of which is usable', () => {
  it('replaces the good keys, and tokens are refused', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}\n    jwksUri: ${await jwksUri()}\n`),
    );
    const clock = createManualClock(Date.UTC(2025, 0, 1));
    auth = createJwtAuthenticator({ clock });
    expect((await auth.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    body = '{"keys":[]}';
    await clock.advance(20 * 60_000);
    // Another token, so the verification cache does not answer.
    const r = await auth.authenticate(rules, request({ headers: bearer(GROUPS_SCOPE_JWT) }));
    expect(r).toMatchObject({ kind: 'deny', status: 401, body: "Jwks doesn't have any valid public key" });
  });
});
