import { describe, expect, it } from 'vitest';
import type { InboundDecision, InboundRequest } from '../../../src/inbound/engine-types.js';
import { PLAIN_ALLOW } from '../../../src/inbound/authz/ext-authz-result.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { extAuthzHttpProvider } from './ext-authz-http-server.js';
import { engineFor, planOf, request, sample, verdict, ingressGateway } from './support.js';

// Envoy's connection manager gives every request an x-forwarded-proto before any filter runs
// (conn_manager_utility.cc mutateRequestHeaders): a listener that uses the remote address (a
// gateway's) overwrites the client's unless it trusts proxies in front of it and one set it;
// one that does not (a sidecar's inbound, listener_inbound.go useRemoteAddress false) sets it
// only when the request has none. Either way the value is the scheme of the downstream
// connection: `https` over TLS, mTLS included. The request's :scheme then follows a valid
// x-forwarded-proto (getScheme), which is what jwt_authn's realm and ext_authz's check see.
// A caller's sidecar sets `http`, so an application behind Istio sees `http` from mesh callers
// (istio/istio#7964, #15124).

const DENY_HTTP = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-http, namespace: foo }
spec:
  action: DENY
  rules: [{ when: [{ key: "request.headers[x-forwarded-proto]", values: ["http"] }] }]
`;

const setOf = (d: InboundDecision) => (d.allow ? d.setHeaders : null);

describe('x-forwarded-proto on inbound requests', () => {
  it('gives a request without one the scheme of its connection, before authorization', async () => {
    const engine = engineFor(planOf(DENY_HTTP));
    // The policy sees the header the connection manager set.
    expect(verdict(await engine.decide(request({ scheme: 'http' })))).toBe(403);
    const tls = await engine.decide(request({ scheme: 'https' }));
    expect(verdict(tls)).toBe('allow');
    expect(setOf(tls)).toEqual({ 'x-forwarded-proto': 'https' });
  });

  it("keeps the caller's on a sidecar", async () => {
    const engine = engineFor(planOf(DENY_HTTP));
    const d = await engine.decide(request({ scheme: 'http', headers: { 'x-forwarded-proto': 'https' } }));
    expect(verdict(d)).toBe('allow');
    expect(setOf(d)).toEqual({});
    expect(
      verdict(await engine.decide(request({ scheme: 'https', headers: { 'x-forwarded-proto': 'http' } }))),
    ).toBe(403);
  });

  it("overwrites the client's on a gateway that trusts no proxy, and keeps it on one that does", async () => {
    const strict = engineFor(planOf('', { workload: ingressGateway }));
    const overwritten = await strict.decide(
      request({ scheme: 'http', headers: { 'x-forwarded-proto': 'https' } }),
    );
    expect(setOf(overwritten)).toEqual({ 'x-forwarded-proto': 'http' });
    const trusting = engineFor(
      planOf(istioConfigMap('defaultConfig:\n  gatewayTopology: { numTrustedProxies: 1 }'), {
        workload: ingressGateway,
      }),
    );
    const kept = await trusting.decide(
      request({ scheme: 'http', headers: { 'x-forwarded-proto': 'https' } }),
    );
    expect(setOf(kept)).toEqual({});
    const added = await trusting.decide(request({ scheme: 'https' }));
    expect(setOf(added)).toEqual({ 'x-forwarded-proto': 'https' });
  });

  it('makes a valid x-forwarded-proto the scheme the filters see, else the connection’s', async () => {
    const seen: string[] = [];
    const engine = engineFor(
      planOf(sample('authz/http/custom-simple-http-in.yaml'), {
        meshConfig: { extensionProviders: [extAuthzHttpProvider(1)] },
      }),
      {
        extAuthz: (_p, req: InboundRequest) => {
          seen.push(`${req.scheme} ${String(req.headers['x-forwarded-proto'])}`);
          return Promise.resolve(PLAIN_ALLOW);
        },
      },
    );
    const cases: [InboundRequest['scheme'], Record<string, string>][] = [
      ['https', { 'x-forwarded-proto': 'http' }],
      ['http', { 'x-forwarded-proto': 'HTTPS' }],
      ['https', { 'x-forwarded-proto': 'ftp' }],
      ['https', {}],
    ];
    for (const [scheme, headers] of cases)
      await engine.decide(request({ url: '/httpbin1', scheme, headers }));
    expect(seen).toEqual(['http http', 'https HTTPS', 'https ftp', 'https https']);
  });
});
