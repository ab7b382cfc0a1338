import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { ExtensionProvider } from '../../../src/config/mesh-config.js';
import { localRateLimitYaml } from '../../helpers/local-rate-limit.js';
import { useExtAuthzServers } from './ext-authz-http-server.js';
import {
  engineFor,
  fakeJwt,
  planOf,
  REQUEST_AUTHENTICATION,
  request,
  sample,
  token,
  verdict,
} from './support.js';

// The inbound HTTP chain istiod builds (pilot/pkg/networking/core/listener_builder.go
// buildHTTPConnectionManager): metadata exchange, the CUSTOM filters (a shadow RBAC filter and
// ext_authz), jwt_authn, then the AUDIT, DENY and ALLOW RBAC filters, ..., the router.

const { authzServer } = useExtAuthzServers();

/** A real ext_authz HTTP server on loopback: allows with `setOnAllow` headers, or denies 403. */
async function extAuthz(answer: { allow: boolean; setOnAllow?: Record<string, string> }) {
  const { port, seen } = await authzServer((_req, res) => {
    if (!answer.allow) {
      res.statusCode = 403;
      res.end('denied by ext_authz');
      return;
    }
    for (const [k, v] of Object.entries(answer.setOnAllow ?? {})) res.setHeader(k, v);
    res.end();
  });
  const provider: ExtensionProvider = {
    name: 'default',
    type: 'envoyExtAuthzHttp',
    config: {
      service: 'foo/127.0.0.1',
      port,
      includeRequestHeadersInCheck: ['authorization', 'x-jwt-payload'],
      headersToUpstreamOnAllow: ['authorization'],
    },
  };
  return { provider, seen };
}

const CUSTOM = `${sample('authz/http/custom-simple-http-in.yaml')}\n---\n`;

const ALLOW_ALICE = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: alice-only, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - from: [{ source: { requestPrincipals: ["https://issuer.example/alice"] } }]
---
`;

describe('CUSTOM runs before jwt_authn, as istiod orders the chain', () => {
  it('a request whose token jwt_authn would refuse is answered by the ext_authz server first', async () => {
    const { provider, seen } = await extAuthz({ allow: false });
    const jwt = fakeJwt();
    const engine = engineFor(
      planOf(REQUEST_AUTHENTICATION + CUSTOM, { meshConfig: { extensionProviders: [provider] } }),
      {
        jwt,
      },
    );
    const d = await engine.decide(request({ url: '/httpbin1', headers: { authorization: 'Bearer forged' } }));
    expect(d.allow ? null : [d.status, d.flags, d.reason.stage]).toEqual([403, ['UAEX'], 'custom']);
    expect(seen[0]?.headers['authorization']).toBe('Bearer forged');
    expect(jwt.calls).toBe(0);
  });

  it('jwt_authn verifies a token the ext_authz server put on the request (the oauth2-proxy pattern)', async () => {
    const { provider, seen } = await extAuthz({ allow: true, setOnAllow: { authorization: 'Bearer good' } });
    const engine = engineFor(
      planOf(REQUEST_AUTHENTICATION + CUSTOM + ALLOW_ALICE, {
        meshConfig: { extensionProviders: [provider] },
      }),
      { jwt: fakeJwt({ good: token({ iss: 'https://issuer.example', sub: 'alice' }) }) },
    );
    const d = await engine.decide(request({ url: '/httpbin1', headers: { cookie: 'session=1' } }));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['authorization']).toBeUndefined();
    expect(verdict(d)).toBe('allow');
    if (!d.allow) return;
    expect(d.context.auth?.principal).toBe('https://issuer.example/alice');
    // The token is not forwarded: jwt_authn removes what ext_authz set, so the app never sees it.
    expect(d.removeHeaders).toContain('authorization');
    expect(d.setHeaders['authorization']).toBeUndefined();
  });

  it("the ext_authz check carries none of jwt_authn's output headers (istio/istio#35941)", async () => {
    const { provider, seen } = await extAuthz({ allow: true });
    const withPayload = {
      ...token({ iss: 'https://issuer.example', sub: 'alice' }),
      setHeaders: { 'x-jwt-payload': 'e30' },
    };
    const engine = engineFor(
      planOf(REQUEST_AUTHENTICATION + CUSTOM, { meshConfig: { extensionProviders: [provider] } }),
      {
        jwt: fakeJwt({ good: withPayload }),
      },
    );
    const d = await engine.decide(request({ url: '/httpbin1', headers: { authorization: 'Bearer good' } }));
    expect(seen[0]?.headers['x-jwt-payload']).toBeUndefined();
    expect(d.allow ? d.setHeaders['x-jwt-payload'] : null).toBe('e30');
  });
});

const DENY_ADMIN = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-public, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { paths: ["/public"] } }] }]
---
`;

const ONE_TOKEN = '{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 3600s }';

describe('a local rate limit runs where its EnvoyFilter puts it in that chain', () => {
  it('INSERT_AFTER envoy.filters.http.rbac: after the DENY filter, before the ALLOW filter', async () => {
    const rl = localRateLimitYaml({
      operation: 'INSERT_AFTER',
      subFilter: 'envoy.filters.http.rbac',
      bucket: ONE_TOKEN,
    });
    const engine = engineFor(planOf(`${DENY_ADMIN}${rl}`));
    // DENY refuses first: no token is taken.
    expect(verdict(await engine.decide(request({ url: '/admin' })))).toBe(403);
    // ALLOW refuses after the rate limit: the only token is taken...
    expect(verdict(await engine.decide(request({ url: '/private' })))).toBe(403);
    // ...so the next request ALLOW would let through is limited.
    const limited = await engine.decide(request({ url: '/public' }));
    expect(limited.allow ? null : [limited.status, limited.flags]).toEqual([429, ['RL']]);
    // A request ALLOW refuses now meets the empty bucket before ALLOW.
    expect(verdict(await engine.decide(request({ url: '/private' })))).toBe(429);
    expect(verdict(await engine.decide(request({ url: '/admin' })))).toBe(403);
  });

  it('INSERT_BEFORE envoy.filters.http.router: after every authorization filter', async () => {
    const rl = localRateLimitYaml({ subFilter: 'envoy.filters.http.router', bucket: ONE_TOKEN });
    const engine = engineFor(planOf(`${DENY_ADMIN}${rl}`));
    expect(verdict(await engine.decide(request({ url: '/private' })))).toBe(403);
    expect(verdict(await engine.decide(request({ url: '/public' })))).toBe('allow');
    expect(verdict(await engine.decide(request({ url: '/public' })))).toBe(429);
  });

  it('INSERT_BEFORE envoy.filters.http.jwt_authn: after CUSTOM, so a request ext_authz refuses takes no token', async () => {
    const { provider } = await extAuthz({ allow: false });
    const rl = localRateLimitYaml({ subFilter: 'envoy.filters.http.jwt_authn', bucket: ONE_TOKEN });
    const engine = engineFor(
      planOf(`${REQUEST_AUTHENTICATION}${CUSTOM}${rl}`, { meshConfig: { extensionProviders: [provider] } }),
    );
    expect(verdict(await engine.decide(request({ url: '/httpbin1' })))).toBe(403);
    expect(verdict(await engine.decide(request({ url: '/other' })))).toBe('allow');
    expect(verdict(await engine.decide(request({ url: '/other' })))).toBe(429);
  });

  it('ADD puts the filter after the router, which Envoy refuses: nothing is limited', async () => {
    const rl = localRateLimitYaml({ operation: 'ADD', bucket: ONE_TOKEN });
    const warned = loadConfigText(rl).diagnostics.filter((d) => d.code === 'MESHLET0004');
    expect(warned.map((d) => [d.path, d.line])).toEqual([['spec.configPatches[0].patch.operation', 13]]);
    expect(warned[0]?.message).toMatch(/after envoy\.filters\.http\.router.*INSERT_BEFORE/);
    const engine = engineFor(planOf(rl));
    for (let i = 0; i < 3; i++) expect(verdict(await engine.decide(request({ url: '/' })))).toBe('allow');
  });

  it('a subFilter the chain lacks places the filter nowhere (no RBAC filter without a policy)', async () => {
    const rl = localRateLimitYaml({
      operation: 'INSERT_AFTER',
      subFilter: 'envoy.filters.http.rbac',
      bucket: ONE_TOKEN,
    });
    const engine = engineFor(planOf(rl));
    for (let i = 0; i < 3; i++) expect(verdict(await engine.decide(request({ url: '/' })))).toBe('allow');
  });
});
