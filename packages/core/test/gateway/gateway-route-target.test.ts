import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { RouteRequest } from '../../src/compile/plan-types.js';
import { gatewayRouteTarget } from '../../src/gateway/gateway-route-target.js';
import { planOf } from '../inbound/engine/support.js';

// The route a gateway's filters see (Envoy's connection manager picks it before they run): a
// rate limit filter finds no route entry for a request no route takes, a redirect (an
// httpsRedirect server's plaintext request too) or a direct response, and no cluster for a
// route whose cluster does not exist (envoy ratelimit.cc initiateCall).
const GATEWAY = {
  name: 'istio-ingressgateway-1',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
};

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["app.example.com"]
  - port: { number: 80, name: http-secure, protocol: HTTP }
    hosts: ["secure.example.com"]
    tls: { httpsRedirect: true }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app, namespace: istio-system }
spec:
  hosts: ["app.example.com", "secure.example.com"]
  gateways: [gw]
  http:
  - match: [{ uri: { prefix: /one } }]
    route: [{ destination: { host: reviews.default.svc.cluster.local, port: { number: 9080 } } }]
  - match: [{ uri: { prefix: /split } }]
    route:
    - { destination: { host: reviews.default.svc.cluster.local, port: { number: 9080 } }, weight: 50 }
    - { destination: { host: ratings.default.svc.cluster.local, port: { number: 9080 } }, weight: 50 }
  - match: [{ uri: { prefix: /all-on-one } }]
    route:
    - { destination: { host: reviews.default.svc.cluster.local, port: { number: 9080 } }, weight: 0 }
    - { destination: { host: ratings.default.svc.cluster.local, port: { number: 9080 } }, weight: 100 }
  - match: [{ uri: { prefix: /moved } }]
    redirect: { uri: /one }
  - match: [{ uri: { prefix: /answer } }]
    directResponse: { status: 204 }
  - match: [{ uri: { prefix: /nowhere } }]
    route: [{ destination: { host: nowhere.example.org, port: { number: 80 } } }]
`;

const plan = planOf(CONFIG, { workload: GATEWAY });
const plain = {} as Socket;

function target(path: string, authority = 'app.example.com', encrypted = false, draw?: () => number) {
  const req: RouteRequest = { method: 'GET', scheme: 'http', authority, path, headers: {}, claims: null };
  return gatewayRouteTarget(plan, 80, plain, encrypted, req, draw);
}

describe('gatewayRouteTarget', () => {
  it("names a route's one cluster, also when the other destinations weigh 0", () => {
    expect(target('/one')).toEqual({ cluster: 'outbound|9080||reviews.default.svc.cluster.local' });
    expect(target('/all-on-one')).toEqual({ cluster: 'outbound|9080||ratings.default.svc.cluster.local' });
  });

  it('has a route entry but no cluster when it is given no draw for a route weighing several', () => {
    expect(target('/split')).toEqual({ cluster: null });
  });

  it("lands the request's draw on the cluster the router will draw with it, drawing only for several", () => {
    const at = (path: string, u: number) => {
      let draws = 0;
      const t = target(path, undefined, false, () => (draws++, u));
      return [t?.cluster, draws];
    };
    expect(at('/split', 0.2)).toEqual(['outbound|9080||reviews.default.svc.cluster.local', 1]);
    expect(at('/split', 0.7)).toEqual(['outbound|9080||ratings.default.svc.cluster.local', 1]);
    expect(at('/one', 0.7)).toEqual(['outbound|9080||reviews.default.svc.cluster.local', 0]);
  });

  it('has no route entry for no route, a redirect, a direct response or an unknown cluster', () => {
    expect(plan.inbound.gateway).toBe(true);
    for (const path of ['/other', '/moved', '/answer', '/nowhere'])
      expect([path, target(path)]).toEqual([path, null]);
    expect(target('/one', 'other.example.com')).toBeNull();
  });

  it("has none for an httpsRedirect server's plaintext request, and the route over TLS", () => {
    expect(target('/one', 'secure.example.com')).toBeNull();
    expect(target('/one', 'secure.example.com', true)).toEqual({
      cluster: 'outbound|9080||reviews.default.svc.cluster.local',
    });
  });
});
