import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import { useJwksServer } from './jwks-server.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { bearer, jwksOf, makeKey, request, requestAuthentication, rulesFrom, sign } from './helpers.js';

// istiod refreshes a jwksUri every 20 minutes whether or not requests come, and pushes changed
// keys; the new filter config has a new JwksCache and so an empty token cache (envoy
// jwt_authn jwks_cache.cc `JwksDataImpl` owns the `JwtCache`). A token signed with a key that
// was rotated away is refused from then on, even one verified a moment before.
let body = '';
let auth: JwtAuthenticator | null = null;
afterEach(() => {
  auth?.close();
});

const jwksUri = useJwksServer(() => ({ status: 200, body }));

describe('a repeated token whose key was rotated out of the JWKS', () => {
  it('is refused after the next refresh, though it was verified and cached before', async () => {
    const old = await makeKey('ES256', 'old');
    const next = await makeKey('ES256', 'new');
    body = jwksOf(old);
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: a.example\n    jwksUri: ${await jwksUri()}\n`),
    );
    const clock = createManualClock(Date.UTC(2025, 0, 1));
    auth = createJwtAuthenticator({ clock });
    const token = await sign(old, { iss: 'a.example', sub: 's' });
    expect((await auth.authenticate(rules, request({ headers: bearer(token) }))).kind).toBe('ok');
    body = jwksOf(next);
    await clock.advance(20 * 60_000);
    const r = await auth.authenticate(rules, request({ headers: bearer(token) }));
    expect(r).toMatchObject({
      kind: 'deny',
      status: 401,
      body: "Jwks doesn't have key to match kid or alg from Jwt",
    });
  });
});
