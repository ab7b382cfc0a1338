import { describe, expect, it } from 'vitest';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { DEMO_JWT, SAMPLE_ISSUER, SAMPLE_JWKS, requestAuthentication } from '../jwt/helpers.js';
import { engineFor, planOf, request, verdict } from './support.js';

// Envoy's jwt_authn runs before RBAC and strips every rule's output header from each
// request before it looks for a token (verifier.cc → extractor.cc sanitizeHeaders), so an
// AuthorizationPolicy reading that header sees only what a verified token put there.
const yaml = `${requestAuthentication(`  - issuer: ${SAMPLE_ISSUER}
    jwks: ${JSON.stringify(SAMPLE_JWKS)}
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]
`)}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: by-claim-header, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - when: [{ key: "request.headers[x-jwt-sub]", values: ["${SAMPLE_ISSUER}"] }]
`;

describe('authorization after jwt_authn sees the output headers it set, never forged ones', () => {
  it('denies a forged claim header without a token, allows the same value from a verified token', async () => {
    const clock = createManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const engine = engineFor(planOf(yaml), { jwt: createJwtAuthenticator({ clock }), clock });
    const forged = await engine.decide(request({ url: '/headers', headers: { 'x-jwt-sub': SAMPLE_ISSUER } }));
    expect(verdict(forged)).toBe(403);
    const verified = await engine.decide(
      request({ url: '/headers', headers: { authorization: `Bearer ${DEMO_JWT}` } }),
    );
    expect(verdict(verified)).toBe('allow');
  });
});
