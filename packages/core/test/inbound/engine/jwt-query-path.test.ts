import { describe, expect, it } from 'vitest';
import type { JwtAuthenticator } from '../../../src/inbound/jwt/types.js';
import { engineFor, planOf, REQUEST_AUTHENTICATION, request, token, verdict } from './support.js';

// jwt_authn removes a token it took from a query parameter and does not forward before the
// RBAC filters run (Envoy 1.31, runtime guard jwt_authn_remove_jwt_from_query_params, on by
// default): a policy on `:path` sees the path without it, as the application does.

const DENY_TOKEN_IN_PATH = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-token-in-path, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ when: [{ key: "request.headers[:path]", values: ["/x?access_token=good*"] }] }]
`;

/** Accepts `?access_token=good` (and no other value) and asks for the parameter to be removed. */
const queryJwt: JwtAuthenticator = {
  authenticate(_rules, req) {
    return Promise.resolve(
      new URLSearchParams(req.url.split('?')[1] ?? '').get('access_token') === 'good'
        ? {
            ...token({ iss: 'https://issuer.example', sub: 'alice' }),
            removeHeaders: [],
            removeParams: ['access_token'],
          }
        : { kind: 'none' },
    );
  },
  close() {},
};

describe('a query-parameter token jwt_authn does not forward', () => {
  it('is gone from the :path the authorization policies match', async () => {
    const engine = engineFor(planOf(REQUEST_AUTHENTICATION + DENY_TOKEN_IN_PATH), { jwt: queryJwt });
    const d = await engine.decide(request({ url: '/x?access_token=good&page=2' }));
    expect(verdict(d)).toBe('allow');
    expect(d.allow ? d.url : null).toBe('/x?page=2');
    // A parameter of that name jwt_authn did not take stays, and the policy sees it.
    expect(verdict(await engine.decide(request({ url: '/x?access_token=goodbye' })))).toBe(403);
  });
});
