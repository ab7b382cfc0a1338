import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { request, snapshotOf } from './helpers.js';

// The delegate example of istio.io/latest/docs/reference/config/networking/virtual-service/#Delegate.
const yaml = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: [reviews]
  http:
  - name: reviews
    match: [{ uri: { prefix: /reviews } }]
    timeout: 3s
    delegate: { name: reviews, namespace: nsB }
  - name: other
    route: [{ destination: { host: reviews, subset: v0 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: nsB }
spec:
  http:
  - name: jason
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v2 } }]
  - name: outside
    match: [{ uri: { prefix: /other } }]
    route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v9 } }]
  - route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v3 } }]
    timeout: 1s
`;

const client = { name: 'c', namespace: 'default', serviceAccount: 'c', labels: {} };

describe('delegate VirtualServices', () => {
  const plan = compilePlan(snapshotOf(yaml), client);
  const vh = plan.outbound.lookup('reviews:9080')!;

  it('merges delegate rules under the root match, dropping conflicting ones', () => {
    expect(vh.routes.map((r) => r.id)).toEqual([
      'default/bookinfo/reviews-jason',
      'default/bookinfo/reviews',
      'default/bookinfo/other',
    ]);
    expect(vh.routes[0]!.delegate).toEqual({ namespace: 'nsB', name: 'reviews' });
  });

  it.each([
    ['/reviews/1', { 'end-user': 'jason' }, 'v2', 3000],
    ['/reviews/1', {}, 'v3', 1000],
    ['/other', { 'end-user': 'jason' }, 'v0', null],
  ])('routes %s with %j to %s with timeout %s', (path, headers, subset, timeout) => {
    const r = plan.outbound.route(vh, request({ path, headers }));
    expect(r?.action.kind === 'route' ? r.action.destinations[0]?.subset : null).toBe(subset);
    expect(r?.timeoutMs).toBe(timeout);
  });
});
