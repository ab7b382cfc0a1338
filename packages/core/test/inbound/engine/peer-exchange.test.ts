import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import { inboundExchange } from '../../../src/inbound/peer-exchange.js';
import { engineFor, planOf, request, verdict } from './support.js';

// The metadata exchange filter comes first in the inbound chain (pilot listener_builder.go
// appendMxFilter: "before the HTTP RBAC filter", istio/istio#41066), and removes the caller's
// headers as it reads them: no later stage, authorization and ext_authz included, sees them.
const DENY_MESHED = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-exchange, namespace: foo }
spec:
  action: DENY
  rules: [{ when: [{ key: "request.headers[x-envoy-peer-metadata-id]", values: ["*"] }] }]
`;

const LOCAL = { id: 'sidecar~10.0.0.1~httpbin-1.foo~foo.svc.cluster.local', value: 'EgA=' };
const CALLER = 'sidecar~10.0.0.2~sleep.foo~foo.svc.cluster.local';

describe('inbound metadata exchange', () => {
  it('authorizes the request without the exchange headers', async () => {
    const engine = engineFor(planOf(DENY_MESHED), { peerHeaders: LOCAL });
    const d = await engine.decide(request({ headers: { 'x-envoy-peer-metadata-id': CALLER } }));
    expect(verdict(d)).toBe('allow');
    // The policy works on any other header of that form.
    const control = planOf(DENY_MESHED.replace('x-envoy-peer-metadata-id', 'x-caller-id'));
    expect(verdict(await engineFor(control).decide(request({ headers: { 'x-caller-id': CALLER } })))).toBe(
      403,
    );
  });

  it('answers with the id and the metadata only when the caller sent each', async () => {
    const engine = engineFor(planOf(''), { peerHeaders: LOCAL });
    const cases: [InboundRequest['headers'], Record<string, string>, string[]][] = [
      [{}, {}, []],
      [
        { 'x-envoy-peer-metadata-id': CALLER },
        { 'x-envoy-peer-metadata-id': LOCAL.id },
        ['x-envoy-peer-metadata-id'],
      ],
      [
        { 'x-envoy-peer-metadata': 'CgA=' },
        { 'x-envoy-peer-metadata': LOCAL.value },
        ['x-envoy-peer-metadata'],
      ],
    ];
    for (const [headers, answered, removed] of cases) {
      const d = await engine.decide(request({ headers }));
      if (!d.allow) throw new Error('expected an allow');
      expect(d.responseHeaders).toEqual(answered);
      expect(d.removeHeaders).toEqual(removed);
    }
  });

  it('removes them and answers nothing without local headers to send', async () => {
    const d = await engineFor(planOf('')).decide(
      request({ headers: { 'x-envoy-peer-metadata': 'CgA=', 'x-envoy-peer-metadata-id': CALLER } }),
    );
    if (!d.allow) throw new Error('expected an allow');
    expect(d.responseHeaders).toEqual({});
    expect(d.removeHeaders).toEqual(['x-envoy-peer-metadata-id', 'x-envoy-peer-metadata']);
  });

  it("leaves a gateway's downstream headers alone: a gateway has only the outbound exchange", async () => {
    const gateway = {
      name: 'istio-ingressgateway-1',
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    };
    const plan = planOf('', { workload: gateway });
    expect(plan.inbound.gateway).toBe(true);
    const d = await engineFor(plan, { peerHeaders: LOCAL }).decide(
      request({ headers: { 'x-envoy-peer-metadata-id': CALLER } }),
    );
    if (!d.allow) throw new Error('expected an allow');
    expect(d.responseHeaders).toEqual({});
    expect(d.removeHeaders).toEqual([]);
  });

  it('keeps a header named __proto__ as data in the request the later stages see', () => {
    const headers = Object.create(null) as Record<string, string | string[]>;
    headers['__proto__'] = ['a', 'b'];
    headers['x-envoy-peer-metadata-id'] = CALLER;
    const x = inboundExchange(request({ headers }));
    expect(Object.getPrototypeOf(x!.request.headers)).toBeNull();
    expect(Object.keys(x!.request.headers)).toEqual(['__proto__']);
    expect(x!.request.headers['__proto__']).toEqual(['a', 'b']);
  });
});
