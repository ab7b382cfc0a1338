import { describe, expect, it } from 'vitest';
import { bookinfo, harness, planOf } from './support/setup.js';

// How Envoy evaluates the header operations istiod gives a route and its destinations:
// one destination's are appended to the route's own lists (istio route/route.go
// processDestination), and one header parser removes every listed header before it sets or
// adds any (envoy header_parser.cc); weighted destinations get their own parser, evaluated
// before the route's (envoy config_impl.h WeightedClusterEntry).

const endpoints = {
  reviews: ['v1', 'v2'].map((version, i) => ({
    address: `10.0.1.${i + 1}`,
    port: 9080,
    labels: { app: 'reviews', version },
  })),
};

function vs(route: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - headers:
      request: { set: { x-both: rule, x-kept: rule } }
      response: { set: { x-resp: rule } }
    route:
${route}`;
}

const dest = (subset: string, weight?: number) => `    - destination: { host: reviews, subset: ${subset} }
${weight === undefined ? '' : `      weight: ${weight}\n`}      headers:
        request: { set: { x-both: dest }, remove: [x-kept] }
        response: { set: { x-resp: dest } }
`;

async function call(route: string) {
  const h = harness(planOf([...bookinfo(), vs(route)], endpoints), () => ({ status: 200 }));
  const res = await h.call('http://reviews:9080/');
  const sent = h.transport.seen[0]!.headers;
  return { both: sent['x-both'], kept: sent['x-kept'], resp: res.headers.get('x-resp') };
}

describe("a route's and its destination's header operations", () => {
  it("one destination: every remove first, then the route's set, then the destination's", async () => {
    // The destination's remove of x-kept runs before the route's set of it, so it stays.
    expect(await call(dest('v1'))).toEqual({ both: 'dest', kept: 'rule', resp: 'dest' });
  });

  it("weighted destinations: the destination's operations, then the route's, which win", async () => {
    expect(await call(dest('v1', 50) + dest('v2', 50))).toEqual({ both: 'rule', kept: 'rule', resp: 'rule' });
  });
});
