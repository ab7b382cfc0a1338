import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthenticator } from '../../../src/inbound/jwt/authenticator.js';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { engineFor, planOf, verdict } from '../engine/support.js';
import { bearer, jwksOf, makeKey, request, requestAuthentication, sign, yamlString } from './helpers.js';
import type { TestKey } from './helpers.js';

/**
 * `spaceDelimitedClaims` belongs to its rule: istiod puts it in that rule's Envoy
 * provider (pilot/pkg/security/authn policy_applier.go convertToEnvoyJwtConfig,
 * `NormalizePayloadInMetadata` per JwtProvider), jwt_authn splits the claims of the tokens
 * that provider verified (authenticator.cc setPayloadMetadata), and the RBAC claim matcher
 * never splits (a string claim matches whole; authz/matcher MetadataListValueMatcher).
 */
let splitting: TestKey;
let plain: TestKey;
beforeAll(async () => {
  splitting = await makeKey('ES256', 'k-split');
  plain = await makeKey('ES256', 'k-plain');
});

let auth: JwtAuthenticator | null = null;
afterEach(() => auth?.close());

const yaml = (): string =>
  requestAuthentication(
    `  - issuer: splitting.example
    jwks: ${yamlString(jwksOf(splitting))}
    spaceDelimitedClaims: [roles]
  - issuer: plain.example
    jwks: ${yamlString(jwksOf(plain))}
`,
  ) +
  `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: editors, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - when:
    - key: request.auth.claims[roles]
      values: ["editor"]
`;

async function decide(key: TestKey, iss: string, roles: string) {
  const clock = createManualClock(Date.UTC(2025, 0, 1));
  auth = createJwtAuthenticator({ clock });
  const engine = engineFor(planOf(yaml()), { jwt: auth, clock });
  const token = await sign(key, { iss, sub: 'user', roles });
  return verdict(await engine.decide(request({ url: '/', headers: bearer(token) })));
}

describe('spaceDelimitedClaims per rule', () => {
  it('splits only the claims of the tokens its own rule verified', async () => {
    expect({
      'listing rule, "viewer editor"': await decide(splitting, 'splitting.example', 'viewer editor'),
      'other rule, "viewer editor"': await decide(plain, 'plain.example', 'viewer editor'),
      'other rule, "editor"': await decide(plain, 'plain.example', 'editor'),
    }).toEqual({
      'listing rule, "viewer editor"': 'allow',
      'other rule, "viewer editor"': 403,
      'other rule, "editor"': 'allow',
    });
  });
});
