import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { request, snapshotOf } from './helpers.js';

const services = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: other }
spec: { ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: default }
spec: { ports: [{ name: http, port: 80 }, { name: grpc-x, port: 9000 }] }
`;

function vs(ns: string, name: string, host: string, subset: string, extra = '', ts?: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns}${ts === undefined ? '' : `, creationTimestamp: "${ts}"`} }
spec:
  hosts: [${host}]
${extra}
  http:
  - route:
    - destination: { host: ${host}, subset: ${subset} }
`;
}

const client = (ns: string, labels: Record<string, string> = { app: 'client' }) => ({
  name: 'client',
  namespace: ns,
  serviceAccount: 'client',
  labels,
});

function subsetFor(yaml: string, ns: string, authority: string, port = 9080): string | null | undefined {
  const plan = compilePlan(snapshotOf(services, yaml), client(ns));
  const vh = plan.outbound.lookup(authority, port);
  if (vh === null) return undefined;
  const r = plan.outbound.route(vh, request({ authority }));
  return r?.action.kind === 'route' ? (r.action.destinations[0]?.subset ?? null) : undefined;
}

describe('VirtualService selection', () => {
  it.each([
    ['absent exportTo is visible everywhere', '', 'other', 'v1'],
    ['exportTo "." hides it from other namespaces', '  exportTo: ["."]', 'other', null],
    ['exportTo "." keeps it in its own namespace', '  exportTo: ["."]', 'default', 'v1'],
    ['exportTo a namespace list shows it there', '  exportTo: [other]', 'other', 'v1'],
    ['exportTo a namespace list hides it elsewhere', '  exportTo: [third]', 'other', null],
    ['gateways without mesh exclude sidecars', '  gateways: [my-gateway]', 'default', null],
    ['gateways with mesh include sidecars', '  gateways: [my-gateway, mesh]', 'default', 'v1'],
  ])('%s', (_, extra, ns, want) => {
    // Resolved in the VS namespace (default) whatever the caller's namespace.
    expect(
      subsetFor(
        vs('default', 'r', 'reviews.default.svc.cluster.local', 'v1', extra),
        ns,
        'reviews.default:9080',
      ),
    ).toBe(want);
  });

  it('resolves a short host in the rule namespace, not the caller namespace', () => {
    const plan = compilePlan(snapshotOf(services, vs('other', 'r', 'reviews', 'v9')), client('default'));
    expect(plan.outbound.lookup('reviews:9080')?.virtualService).toBeNull();
    expect(plan.outbound.lookup('reviews.other:9080')?.virtualService).toEqual({
      namespace: 'other',
      name: 'r',
    });
    // `reviews` alone names the caller's own namespace service.
    expect(plan.outbound.lookup('reviews', 9080)?.host).toBe('reviews.default.svc.cluster.local');
  });

  it('lets the oldest VirtualService win a host and records the loser', () => {
    const yaml = [
      vs('default', 'newer', 'reviews', 'new', '', '2024-02-01T00:00:00Z'),
      vs('default', 'older', 'reviews', 'old', '', '2024-01-01T00:00:00Z'),
    ].join('---');
    expect(subsetFor(yaml, 'default', 'reviews')).toBe('old');
    const plan = compilePlan(snapshotOf(services, yaml), client('default'));
    expect(plan.outbound.conflicts).toEqual([
      {
        host: 'reviews.default.svc.cluster.local',
        winner: { namespace: 'default', name: 'older' },
        dropped: { namespace: 'default', name: 'newer' },
      },
    ]);
  });

  it('orders private-to-namespace before exported before public, whatever the age', () => {
    const host = 'reviews.default.svc.cluster.local';
    const yaml = [
      vs('default', 'public', host, 'public', '', '2020-01-01T00:00:00Z'),
      vs('other', 'exported', host, 'exported', '  exportTo: [default]', '2021-01-01T00:00:00Z'),
      vs('default', 'private', host, 'private', '  exportTo: ["."]', '2022-01-01T00:00:00Z'),
    ].join('---');
    expect(subsetFor(yaml, 'default', 'reviews')).toBe('private');
    expect(subsetFor(yaml.split('---').slice(0, 2).join('---'), 'default', 'reviews')).toBe('exported');
  });

  it('breaks equal creation times by name', () => {
    const yaml = [vs('default', 'b', 'reviews', 'b'), vs('default', 'a', 'reviews', 'a')].join('---');
    expect(subsetFor(yaml, 'default', 'reviews')).toBe('a');
  });

  it('lets an exact host beat a wildcard host, and the wildcard cover the rest', () => {
    const yaml = [
      vs('default', 'wild', '"*.default.svc.cluster.local"', 'wild', '', '2020-01-01T00:00:00Z'),
      vs('default', 'exact', 'reviews', 'exact', '', '2024-01-01T00:00:00Z'),
    ].join('---');
    expect(subsetFor(yaml, 'default', 'reviews')).toBe('exact');
    expect(subsetFor(yaml, 'default', 'api', 80)).toBe('wild');
  });

  it('falls back to the default route when every match is for another caller', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ sourceLabels: { app: productpage } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ sourceNamespace: prod, headers: { x: { exact: "1" } } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
`;
    const other = compilePlan(snapshotOf(services, yaml), client('default'));
    expect(other.outbound.lookup('reviews:9080')?.routes.map((r) => r.id)).toEqual(['default']);
    const pp = compilePlan(
      snapshotOf(services, yaml),
      client('default', { app: 'productpage', version: 'v1' }),
    );
    expect(pp.outbound.lookup('reviews:9080')?.routes.map((r) => r.id)).toEqual(['default/r/0']);
  });

  it('answers no route (404 NR) when the VirtualService owns the host but nothing matches', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /api } }]
    route: [{ destination: { host: reviews } }]
`;
    const plan = compilePlan(snapshotOf(services, yaml), client('default'));
    const vh = plan.outbound.lookup('reviews:9080')!;
    expect(plan.outbound.route(vh, request({ path: '/api/x' }))?.id).toBe('default/r/0');
    expect(plan.outbound.route(vh, request({ path: '/other' }))).toBeNull();
  });

  it('filters matches by the listener port', () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api]
  http:
  - name: grpc-only
    match: [{ port: 9000 }]
    route: [{ destination: { host: api, port: { number: 9000 }, subset: g } }]
  - route: [{ destination: { host: api } }]
`;
    const plan = compilePlan(snapshotOf(services, yaml), client('default'));
    expect(plan.outbound.lookup('api', 80)?.routes.map((r) => r.id)).toEqual(['default/api/1']);
    const r = plan.outbound.lookup('api:9000')?.routes[0];
    expect(r?.id).toBe('default/api/grpc-only');
    // On port 9000 the port-only match catches everything, so the next rule is unreachable there.
    expect(plan.outbound.lookup('api:9000')?.routes).toHaveLength(1);
    // No port on a multi-port service: the port the client called.
    const catchAll = plan.outbound.lookup('api', 80)?.routes[0];
    expect(catchAll?.action).toMatchObject({
      destinations: [{ port: 80, cluster: 'outbound|80||api.default.svc.cluster.local' }],
    });
  });
});
