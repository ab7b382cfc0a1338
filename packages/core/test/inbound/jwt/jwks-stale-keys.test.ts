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
// (pilot/pkg/model/jwks_resolver.go `JwtPubKeyEvictionDuration`, checked when its refresher
// runs, at most 60 min apart while refreshes fail); fetched again and failing, it inlines
// PublicOnlyJwks, on which every token fails. Until then the old keys stay in use.
let up = true;
let auth: JwtAuthenticator | null = null;
afterEach(() => {
  auth?.close();
  up = true;
});

const jwksUri = useJwksServer(() => ({ status: 200, body: SAMPLE_JWKS }));

/**
 * The real fetch while the JWKS server is up; while it is down, a refused connection at once,
 * so a week of refreshes on the manual clock needs no real time.
 */
const fetchWhileUp: typeof fetch = (input, init) =>
  up ? globalThis.fetch(input, init) : Promise.reject(new TypeError('fetch failed: ECONNREFUSED'));

describe('keys whose refresh has failed for 7 days', () => {
  it('are given up, and tokens are refused', async () => {
    const rules = rulesFrom(
      requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}\n    jwksUri: ${await jwksUri()}\n`),
    );
    const clock = createManualClock(Date.UTC(2025, 0, 1));
    auth = createJwtAuthenticator({ clock, fetch: fetchWhileUp });
    expect((await auth.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    up = false;
    for (let day = 1; day <= 7; day++) {
      await clock.advance(24 * 3600_000);
      expect((await auth.authenticate(rules, request({ headers: bearer(DEMO_JWT) }))).kind).toBe('ok');
    }
    // The refresh after the 7 days (within the 60 min backoff) gives the keys up.
    await clock.advance(61 * 60_000);
    for (const token of [GROUPS_SCOPE_JWT, DEMO_JWT]) {
      const r = await auth.authenticate(rules, request({ headers: bearer(token) }));
      expect(r).toMatchObject({ kind: 'deny', status: 401, body: 'Jwt verification fails' });
    }
  });
});
