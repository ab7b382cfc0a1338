import { describe, expect, it } from 'vitest';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import {
  DEMO_JWT,
  SAMPLE_ISSUER,
  SAMPLE_JWKS,
  jwksOf,
  makeKey,
  requestAuthentication,
  sign,
  yamlString,
} from '../jwt/helpers.js';
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

// Several good tokens add several lines of one output header (authenticator.cc addCopy),
// and RBAC matches each line of a repeated header on its own (Envoy 1.37.1, CVE-2026-26308,
// `rbac_match_headers_individually`): a DENY naming one token's claim refuses the request,
// whatever the other line says.
describe('authorization sees each output header line of several tokens', () => {
  const policies = async () => {
    const key = await makeKey('ES256', 'k1');
    const yaml = `${requestAuthentication(`  - issuer: a.example
    jwks: ${yamlString(jwksOf(key))}
    fromHeaders: [{ name: x-a }, { name: x-b }]
    outputClaimToHeaders: [{ header: x-user, claim: sub }]
`)}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-bob, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules:
  - when: [{ key: "request.headers[x-user]", values: ["bob"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-alice, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["/alice"] } }]
    when: [{ key: "request.headers[x-user]", values: ["alice"] }]
  - to: [{ operation: { paths: ["/any"] } }]
`;
    const clock = createManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const engine = engineFor(planOf(yaml), { jwt: createJwtAuthenticator({ clock }), clock });
    const tokenOf = (sub: string) => sign(key, { iss: 'a.example', sub });
    return {
      engine,
      alice: await tokenOf('alice'),
      bob: await tokenOf('bob'),
      carol: await tokenOf('carol'),
    };
  };

  it('denies when any line names the denied user, and allows when any line names the allowed one', async () => {
    const { engine, alice, bob, carol } = await policies();
    const call = async (url: string, headers: Record<string, string>) =>
      verdict(await engine.decide(request({ url, headers })));
    expect(await call('/any', { 'x-a': carol, 'x-b': alice })).toBe('allow');
    expect(await call('/any', { 'x-a': alice, 'x-b': bob })).toBe(403);
    expect(await call('/any', { 'x-a': bob, 'x-b': alice })).toBe(403);
    expect(await call('/alice', { 'x-a': carol, 'x-b': alice })).toBe('allow');
    expect(await call('/alice', { 'x-a': carol })).toBe(403);
  });
});
