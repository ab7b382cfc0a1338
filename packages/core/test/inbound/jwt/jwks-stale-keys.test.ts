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

// istiod drops a cached JWKS that has not been refreshed successfully for 7 days
// (pilot/pkg/model/jwks_resolver.go `JwtPubKeyEvictionDuration`); fetched again and failing,
// it inlines PublicOnlyJwks, on which every token fails.
let up = true;
let auth: JwtAuthenticator | null = null;
afterEach(() => {
  auth?.close();
  up = true;
});

const jwksUri = useJwksServer(() =>
  up ? { status: 200, body: SAMPLE_JWKS } : { status: 503, body: 'down' },
);

describe('keys whose refresh has failed for 7 days', () => {
  it('are given up, and tokens are refused', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}\n    jwksUri: ${await jwksUri()}\n`),
    );
    const clock = createManualClock(Date.UTC(2025, 0, 1));
    auth = createJwtAuthenticator({ clock });
    expect((await auth.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    up = false;
    await clock.advance(7 * 24 * 3600_000);
    // A token not seen before, so the verification cache does not answer.
    const r = await auth.authenticate(rules, request({ headers: bearer(GROUPS_SCOPE_JWT) }));
    expect(r).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt verification fails' });
  });
});
