import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { MeshPlan, RouteRequest } from '../../src/compile/plan-types.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { productpage, request, sample, snapshotOf } from './helpers.js';

// A gateway's route tables as istiod builds them (pilot/pkg/networking/core/gateway.go
// buildGatewayHTTPRouteConfig): VirtualServices bound to the Gateways that select the
// workload, per server port, hosts intersected with the server's, port ignored in host
// matching, routes of several VirtualServices merged per host with catch-alls last
// (route.go SortVHostRoutes), and 404 NR for a host nothing binds.
const ingress: WorkloadIdentity = {
  name: 'istio-ingressgateway-1',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
};

function gatewayRoute(
  plan: MeshPlan,
  authority: string,
  port: number,
  path: string,
  extra: Partial<RouteRequest> = {},
) {
  const routes = plan.gateway!.routes;
  const vhost = routes.lookup(authority, port);
  expect(vhost).not.toBeNull();
  const r = routes.route(vhost!, request({ authority, path, ...extra }));
  return { vhost: vhost!, route: r };
}

function destinationsOf(plan: MeshPlan, authority: string, port: number, path: string): string[] | null {
  const { route } = gatewayRoute(plan, authority, port, path);
  if (route === null) return null;
  return route.action.kind === 'route'
    ? route.action.destinations.map((d) => d.cluster)
    : [route.action.kind];
}

describe('gateway route tables', () => {
  it('Bookinfo: the ingress gateway routes the five paths of bookinfo-gateway.yaml to productpage:9080', () => {
    const snap = snapshotOf(
      sample('bookinfo-platform/bookinfo.yaml'),
      sample('bookinfo-networking/bookinfo-gateway.yaml'),
    );
    const plan = compilePlan(snap, ingress);
    expect(plan.gateway?.gateways).toEqual([{ namespace: 'default', name: 'bookinfo-gateway' }]);
    expect(plan.gateway?.servers.map((s) => [s.port, s.protocol, s.http])).toEqual([[8080, 'HTTP', true]]);
    for (const path of ['/productpage', '/static/img.png', '/login', '/logout', '/api/v1/products/0']) {
      expect(destinationsOf(plan, 'bookinfo.example.com', 8080, path)).toEqual([
        'outbound|9080||productpage.default.svc.cluster.local',
      ]);
    }
    // Not one of the VirtualService's paths: 404 NR, as the gateway answers /.
    expect(destinationsOf(plan, '1.2.3.4', 8080, '/')).toBeNull();
    // The cluster exists with the service's endpoints' shape.
    expect(plan.gateway!.routes.cluster('outbound|9080||productpage.default.svc.cluster.local')?.status).toBe(
      'ok',
    );
    // No server on port 80: istiod would have no listener; the table is empty.
    expect(gatewayRoute(plan, 'x', 80, '/productpage').route).toBeNull();
  });

  it('a sidecar does not see gateway-bound VirtualServices, and has no gateway plan', () => {
    const snap = snapshotOf(
      sample('bookinfo-platform/bookinfo.yaml'),
      sample('bookinfo-networking/bookinfo-gateway.yaml'),
    );
    const plan = compilePlan(snap, productpage);
    expect(plan.gateway).toBeNull();
    expect(plan.outbound.virtualHosts.some((v) => v.virtualService?.name === 'bookinfo')).toBe(false);
  });

  it('ingress-control task: only httpbin.example.com is routed; the authority port is ignored; other hosts 404', () => {
    const snap = snapshotOf(
      sample('httpbin/httpbin.yaml'),
      sample('tasks/ingress-control/01-httpbin-gateway.yaml'),
      sample('tasks/ingress-control/02-httpbin-virtualservice.yaml'),
    );
    const plan = compilePlan(snap, ingress);
    expect(destinationsOf(plan, 'httpbin.example.com', 80, '/status/200')).toEqual([
      'outbound|8000||httpbin.default.svc.cluster.local',
    ]);
    expect(destinationsOf(plan, 'httpbin.example.com:31380', 80, '/delay/1')).toEqual([
      'outbound|8000||httpbin.default.svc.cluster.local',
    ]);
    expect(destinationsOf(plan, 'httpbin.example.com', 80, '/headers')).toBeNull();
    const other = gatewayRoute(plan, 'other.example.com', 80, '/status/200');
    expect(other.route).toBeNull();
    expect(other.vhost.routes).toEqual([]);
  });

  it('the any-host variant of the task binds "*" and routes /headers for every host', () => {
    const snap = snapshotOf(
      sample('httpbin/httpbin.yaml'),
      sample('tasks/ingress-control/03-httpbin-gateway-any-host-headers.yaml'),
    );
    const plan = compilePlan(snap, ingress);
    expect(destinationsOf(plan, 'anything.test', 80, '/headers')).toEqual([
      'outbound|8000||httpbin.default.svc.cluster.local',
    ]);
  });

  const base = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*/*.example.com", "prod/api.internal"]
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["*/*.example.com"]
    tls: { mode: SIMPLE, credentialName: example-cert }
  - port: { number: 9000, name: tcp, protocol: TCP }
    hosts: ["*"]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: prod }
spec: { ports: [{ name: http, port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: prod }
spec: { ports: [{ name: http, port: 8080 }] }
`;

  it('merges the routes of every VirtualService naming a host, catch-all routes last', () => {
    const snap = snapshotOf(
      base,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a-web, namespace: prod, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  hosts: [www.example.com]
  gateways: [edge/gw]
  http: [{ route: [{ destination: { host: web } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: b-api, namespace: prod, creationTimestamp: "2024-01-02T00:00:00Z" }
spec:
  hosts: [www.example.com]
  gateways: [gw.edge.svc.cluster.local]
  http: [{ match: [{ uri: { prefix: /api } }], route: [{ destination: { host: api } }] }]
`,
    );
    const plan = compilePlan(snap, ingress);
    // The older VirtualService's catch-all comes after the newer one's /api route.
    expect(destinationsOf(plan, 'www.example.com', 80, '/api/items')).toEqual([
      'outbound|8080||api.prod.svc.cluster.local',
    ]);
    expect(destinationsOf(plan, 'www.example.com', 80, '/')).toEqual([
      'outbound|8080||web.prod.svc.cluster.local',
    ]);
    // The HTTPS server terminates TLS: its port gets the same routes.
    expect(destinationsOf(plan, 'www.example.com', 443, '/api')).toEqual([
      'outbound|8080||api.prod.svc.cluster.local',
    ]);
    // A TCP server takes tcp routes, not http ones.
    expect(plan.gateway!.servers.find((s) => s.port === 9000)?.http).toBe(false);
    expect(gatewayRoute(plan, 'www.example.com', 9000, '/').route).toBeNull();
  });

  it('a server host with a namespace binds only VirtualServices of that namespace', () => {
    const vs = (ns: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: ${ns} }
spec:
  hosts: [api.internal]
  gateways: [edge/gw]
  http: [{ route: [{ destination: { host: api.prod.svc.cluster.local } }] }]
`;
    expect(
      destinationsOf(compilePlan(snapshotOf(base, vs('prod')), ingress), 'api.internal', 80, '/'),
    ).toEqual(['outbound|8080||api.prod.svc.cluster.local']);
    expect(
      destinationsOf(compilePlan(snapshotOf(base, vs('dev')), ingress), 'api.internal', 80, '/'),
    ).toBeNull();
  });

  it('a VirtualService bound to the mesh and a gateway keeps each rule where its match.gateways puts it', () => {
    const snap = snapshotOf(
      base,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: edge }
spec:
  hosts: [web.example.com]
  gateways: [gw, mesh]
  http:
  - match: [{ gateways: [gw], uri: { prefix: /public } }]
    route: [{ destination: { host: web.prod.svc.cluster.local } }]
  - match: [{ gateways: [mesh] }]
    route: [{ destination: { host: api.prod.svc.cluster.local } }]
`,
    );
    const gw = compilePlan(snap, ingress);
    expect(destinationsOf(gw, 'web.example.com', 80, '/public/x')).toEqual([
      'outbound|8080||web.prod.svc.cluster.local',
    ]);
    expect(destinationsOf(gw, 'web.example.com', 80, '/other')).toBeNull();
    const sidecar = compilePlan(snap, { ...productpage, namespace: 'edge' });
    const vh = sidecar.outbound.lookup('web.example.com', 80);
    expect(vh?.routes.map((r) => r.id)).toEqual(['edge/web/1']);
  });

  it('httpsRedirect marks the server hosts as requiring TLS', () => {
    const snap = snapshotOf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: edge }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [shop.example.com]
    tls: { httpsRedirect: true }
`);
    const plan = compilePlan(snap, ingress);
    const { vhost, route } = gatewayRoute(plan, 'shop.example.com', 80, '/cart');
    expect(vhost.requireTls).toBe(true);
    expect(route).toBeNull();
  });

  it('selects Gateways by selector in any namespace; one without a selector applies to every gateway', () => {
    const snap = snapshotOf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: other, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: any, namespace: apps }
spec:
  servers: [{ port: { number: 8081, name: http, protocol: HTTP }, hosts: ["*"] }]
`);
    expect(compilePlan(snap, ingress).gateway?.gateways).toEqual([{ namespace: 'apps', name: 'any' }]);
  });

  it('matches @request.auth.claims nested with either separator, as istio pkg/jwt ToRoutingClaim splits them', () => {
    const snap = snapshotOf(
      base,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: claims, namespace: prod }
spec:
  hosts: [claims.example.com]
  gateways: [edge/gw]
  http:
  - match: [{ headers: { "@request.auth.claims.org.team": { exact: blue } } }]
    route: [{ destination: { host: web } }]
  - match: [{ headers: { "@request.auth.claims[org][role]": { prefix: adm } } }]
    route: [{ destination: { host: api } }]
`,
    );
    const plan = compilePlan(snap, ingress);
    const routed = (claims: Record<string, unknown> | null) => {
      const routes = plan.gateway!.routes;
      const r = routes.route(
        routes.lookup('claims.example.com', 80)!,
        request({ authority: 'claims.example.com', path: '/', claims }),
      );
      return r === null ? null : r.action.kind === 'route' ? r.action.destinations[0]!.host : r.action.kind;
    };
    expect(routed({ org: { team: 'blue' } })).toBe('web.prod.svc.cluster.local');
    expect(routed({ 'org.team': 'blue' })).toBeNull();
    expect(routed({ org: { role: 'admin' } })).toBe('api.prod.svc.cluster.local');
    expect(routed({ org: { team: ['red', 'blue'] } })).toBe('web.prod.svc.cluster.local');
    expect(routed(null)).toBeNull();
  });
});
