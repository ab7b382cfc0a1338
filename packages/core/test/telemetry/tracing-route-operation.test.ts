import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { MeshPlan, RouteRequest } from '../../src/compile/plan-types.js';
import { operationOf } from '../../src/compile/route-operation.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

// The decorator operation istiod puts on each Envoy route of a sidecar's outbound route
// configuration, which names Envoy's egress span (istio pilot/pkg/networking/core/route/route.go):
// - one Envoy route per rule match (BuildHTTPRoutesForVirtualService, TranslateRoute), a
//   rule without match giving one with prefix `/` (TranslateRouteMatch);
// - GetRouteOperation: the path is `<prefix>*`, the exact path, the regex, else `/*`; the
//   host and port are those of the route's one cluster `outbound|<port>|<subset>|<host>`
//   (the destination host, its port: the one given, else the service's only port, else the
//   listener port; GetDestinationCluster); a rule with several destinations (weighted
//   clusters, applyHTTPRouteDestination), a redirect or a direct response has no cluster,
//   so `<VirtualService name>:<listener port><path>`;
// - a Service without VirtualService gets the default route, `<host>:<port>/*`
//   (buildSidecarVirtualHostForService, telemetry.TraceOperation).

const SERVICES = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: ratings }
---
apiVersion: v1
kind: Service
metadata: { name: details, namespace: default }
spec:
  ports: [{ port: 9080, name: http }, { port: 9443, name: http-alt }]
  selector: { app: details }
---
apiVersion: v1
kind: Service
metadata: { name: plain, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: plain }
`;

const ROUTES = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-route, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { exact: /exact } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
  - match: [{ uri: { prefix: /api/ } }, { uri: { regex: '^/re/[0-9]+$' } }, { headers: { x-user: { exact: jason } } }]
    route: [{ destination: { host: ratings } }]
  - match: [{ uri: { prefix: /heavy } }]
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 100 }
    - { destination: { host: reviews, subset: v2 }, weight: 0 }
  - match: [{ uri: { prefix: /moved } }]
    redirect: { uri: /new }
  - match: [{ uri: { exact: /teapot } }]
    directResponse: { status: 418 }
  - match: [{ uri: { prefix: /other/ }, sourceLabels: { app: nobody } }, { uri: { prefix: /mine } }]
    route: [{ destination: { host: reviews } }]
  - match: [{ uri: { prefix: /x } }, { uri: { prefix: / } }, { uri: { exact: /never } }]
    route: [{ destination: { host: reviews } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details-route, namespace: default }
spec:
  hosts: [details]
  http:
  - route: [{ destination: { host: details } }]
`;

function plan(): MeshPlan {
  return compilePlan(snapshotOf(SERVICES + '---\n' + ROUTES), PRODUCTPAGE, {});
}

const request = (path: string, headers: Record<string, string> = {}): RouteRequest => ({
  method: 'GET',
  scheme: 'http',
  authority: 'reviews:9080',
  path,
  headers,
});

/** The operation of the route `path` takes on `host:port`, as Envoy's egress span is named. */
function operation(p: MeshPlan, host: string, port: number, req: RouteRequest): string | null {
  const vhost = p.outbound.lookup(host, port)!;
  const route = p.outbound.route(vhost, req)!;
  return operationOf(route, req);
}

describe("the decorator operation of a sidecar's outbound route", () => {
  const p = plan();
  const R = 'reviews.default.svc.cluster.local';

  it.each([
    ['/exact', `${R}:9080/exact`],
    ['/api/v1', 'ratings.default.svc.cluster.local:9080/api/*'],
    // The regex as written, right after the port: no `/` is added.
    ['/re/7', 'ratings.default.svc.cluster.local:9080^/re/[0-9]+$'],
    ['/heavy/1', 'reviews-route:9080/heavy*'],
    ['/moved/1', 'reviews-route:9080/moved*'],
    ['/teapot', 'reviews-route:9080/teapot'],
    ['/mine/1', `${R}:9080/mine*`],
    ['/x1', `${R}:9080/x*`],
    ['/else', `${R}:9080/*`],
  ])('is %s → %s', (path, want) => {
    expect(operation(p, 'reviews', 9080, request(path))).toBe(want);
  });

  it("is `/*` for a match without a uri, the match's own for each match of a rule", () => {
    expect(operation(p, 'reviews', 9080, request('/else', { 'x-user': 'jason' }))).toBe(
      'ratings.default.svc.cluster.local:9080/*',
    );
    const route = p.outbound.lookup('reviews', 9080)!.routes[1]!;
    expect(route.operations).toEqual([
      'ratings.default.svc.cluster.local:9080/api/*',
      'ratings.default.svc.cluster.local:9080^/re/[0-9]+$',
      'ratings.default.svc.cluster.local:9080/*',
    ]);
  });

  it('leaves out the matches istiod drops, and those after a catch-all match', () => {
    const routes = p.outbound.lookup('reviews', 9080)!.routes;
    expect(routes[5]!.operations).toEqual([`${R}:9080/mine*`]);
    expect(routes[6]!.operations).toEqual([`${R}:9080/x*`, `${R}:9080/*`]);
  });

  it('takes the listener port for a multi-port destination without a port', () => {
    const D = 'details.default.svc.cluster.local';
    expect(operation(p, 'details', 9443, request('/'))).toBe(`${D}:9443/*`);
    expect(operation(p, 'details', 9080, request('/'))).toBe(`${D}:9080/*`);
  });

  it("is the default route's `<host>:<port>/*` for a Service without VirtualService", () => {
    expect(operation(p, 'plain', 9080, request('/a/b'))).toBe('plain.default.svc.cluster.local:9080/*');
  });
});
