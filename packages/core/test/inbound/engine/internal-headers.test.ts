import { describe, expect, it } from 'vitest';
import type { InboundDecision } from '../../../src/inbound/engine-types.js';
import { engineFor, planOf, request, verdict, ingressGateway } from './support.js';

// Envoy's connection manager cleans a request before any filter runs (envoy
// source/common/http/conn_manager_utility.cc mutateRequestHeaders): it always removes
// `x-envoy-internal`, and sets it again only on a request it finds internal; a request that
// is not internal also loses Envoy's control headers (cleanInternalHeaders), and an edge
// request (use_remote_address, not internal) the three edge-only ones too. Istio's sidecar
// inbound does not use the remote address, so Envoy never checks whether its peer is internal;
// its gateways do, but since Envoy 1.33 no address is internal without an
// `internal_address_config`, which istiod writes only from meshNetworks (listener_builder.go).
// So every request is external: a caller cannot mark its request internal.

const CONTROL = [
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
];
const EDGE_ONLY = [
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
];

/** A DENY policy on the presence of `header` (at the gateway's labels with `gateway`). */
function denyOn(header: string, gateway = false): string {
  const selector = gateway ? 'selector: { matchLabels: { istio: ingressgateway } }\n  ' : '';
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-header, namespace: foo }
spec:
  ${selector}action: DENY
  rules: [{ when: [{ key: "request.headers[${header}]", values: ["*"] }] }]
`;
}

const removed = (d: InboundDecision): readonly string[] | null => (d.allow ? d.removeHeaders : null);

describe("the connection manager's request cleaning, before every filter", () => {
  it('takes a caller’s x-envoy-internal and control headers off before authorization and the application', async () => {
    for (const header of ['x-envoy-internal', ...CONTROL]) {
      const engine = engineFor(planOf(denyOn(header)));
      const d = await engine.decide(request({ headers: { [header]: 'true', 'x-other': '1' } }));
      expect({ header, verdict: verdict(d) }).toEqual({ header, verdict: 'allow' });
      expect(removed(d)).toEqual([header]);
    }
  });

  it('leaves other x-envoy- headers, and the edge-only ones at a sidecar, for authorization and the application', async () => {
    for (const header of ['x-envoy-attempt-count', 'x-envoy-external-address', ...EDGE_ONLY]) {
      const engine = engineFor(planOf(denyOn(header)));
      const d = await engine.decide(request({ headers: { [header]: '1' } }));
      // The policy sees the header, so the request is refused with it and allowed without it.
      expect({ header, verdict: verdict(d) }).toEqual({ header, verdict: 403 });
      expect(removed(await engine.decide(request()))).toEqual([]);
    }
  });

  it('at a gateway also takes off the edge-only headers', async () => {
    for (const header of ['x-envoy-internal', ...CONTROL.slice(0, 2), ...EDGE_ONLY]) {
      const plan = planOf(denyOn(header, true), { workload: ingressGateway });
      expect(plan.inbound.gateway).toBe(true);
      const d = await engineFor(plan).decide(request({ headers: { [header]: 'x' } }));
      expect({ header, verdict: verdict(d) }).toEqual({ header, verdict: 'allow' });
      expect(removed(d)).toEqual([header]);
    }
  });

  it('removes every one a request carries, repeated or not, and keeps its other edits', async () => {
    const engine = engineFor(planOf(''));
    const d = await engine.decide(
      request({
        headers: {
          'x-envoy-internal': ['true', 'true'],
          'x-envoy-max-retries': '5',
          'x-envoy-peer-metadata-id': 'sidecar~10.0.0.2~sleep.foo~foo.svc.cluster.local',
        },
      }),
    );
    expect(removed(d)).toEqual(['x-envoy-internal', 'x-envoy-max-retries', 'x-envoy-peer-metadata-id']);
  });
});
