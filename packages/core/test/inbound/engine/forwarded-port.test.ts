import { describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { engineFor, planOf, request, verdict, ingressGateway } from './support.js';

// proxyHeaders.xForwardedPort.enabled is the connection manager's append_x_forwarded_port
// (pilot listener_builder.go). Envoy sets the header before any filter runs
// (conn_manager_utility.cc mutateRequestHeaders): on a sidecar's inbound listener, which does
// not use the remote address, only when the request has none; on a gateway's, which does,
// over the client's unless it trusts proxies in front of it.
const DENY_PORT_8000 = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-8000, namespace: foo }
spec:
  action: DENY
  rules: [{ when: [{ key: "request.headers[x-forwarded-port]", values: ["8000"] }] }]
`;

function mesh(extra = '') {
  return istioConfigMap(`defaultConfig:\n  proxyHeaders:\n    xForwardedPort: { enabled: true }\n${extra}`);
}

/** The decision's x-forwarded-port edit (forwarded-proto.test.ts has the x-forwarded-proto one). */
const setOf = (d: InboundDecision) => {
  if (!d.allow) return null;
  const { 'x-forwarded-proto': _proto, ...rest } = d.setHeaders;
  return rest;
};

describe('x-forwarded-port on inbound requests', () => {
  it('gives a request without one the port it arrived on, before authorization', async () => {
    const engine = engineFor(planOf(mesh() + '---\n' + DENY_PORT_8000));
    // The policy sees the header the connection manager set.
    expect(verdict(await engine.decide(request({ port: 8000 })))).toBe(403);
    const d = await engine.decide(request({ port: 9080 }));
    expect(setOf(d)).toEqual({ 'x-forwarded-port': '9080' });
  });

  it("keeps the client's on a sidecar", async () => {
    const engine = engineFor(planOf(mesh() + '---\n' + DENY_PORT_8000));
    const d = await engine.decide(request({ port: 8000, headers: { 'x-forwarded-port': '443' } }));
    expect(verdict(d)).toBe('allow');
    expect(setOf(d)).toEqual({});
  });

  it("overwrites the client's on a gateway that trusts no proxy, and keeps it on one that does", async () => {
    const strict = engineFor(planOf(mesh(), { workload: ingressGateway }));
    const overwritten = await strict.decide(request({ port: 8080, headers: { 'x-forwarded-port': '443' } }));
    expect(setOf(overwritten)).toEqual({ 'x-forwarded-port': '8080' });
    const trusting = engineFor(
      planOf(mesh('  gatewayTopology: { numTrustedProxies: 1 }'), { workload: ingressGateway }),
    );
    const kept = await trusting.decide(request({ port: 8080, headers: { 'x-forwarded-port': '443' } }));
    expect(setOf(kept)).toEqual({});
  });

  it('adds nothing by default', async () => {
    const d = await engineFor(planOf(DENY_PORT_8000)).decide(request({ port: 8000 }));
    expect(verdict(d)).toBe('allow');
    expect(setOf(d)).toEqual({});
  });
});
