import { describe, expect, it } from 'vitest';
import type { ClusterResponse } from '../../../src/outbound/cluster-call.js';
import { bookinfo, drive, harness, planOf } from './support/setup.js';

// Extension providers (ext_authz) are called through the cluster istiod names for them,
// `outbound|<port>||<host>` (pilot/pkg/model/telemetry_logging.go LookupCluster), by
// Envoy's async client: the cluster's policy applies, a VirtualService route does not.
const REVIEWS = 'reviews.default.svc.cluster.local';

const request = (headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: '/check/reviews?x=1',
  headers: { host: 'productpage:9080', ...headers },
  body: Buffer.from('{}'),
  signal: null,
});

const statusOf = (r: ClusterResponse) => (r.kind === 'response' ? r.status : r.reason);

describe('calls straight to a service cluster (extension providers)', () => {
  it('reaches an endpoint of the cluster with no route, retry or fault, and no attempt count', async () => {
    // Every request routed to reviews is aborted by a fault.
    const faulted = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
`;
    const h = harness(planOf([...bookinfo(), faulted]), () => ({ status: 200, body: 'ok' }));
    const r = await drive(h.clock, h.client.cluster.request(REVIEWS, 9080, request()));
    expect(statusOf(r)).toBe(200);
    expect(h.transport.seen).toHaveLength(1);
    const seen = h.transport.seen[0]!;
    // Any endpoint of the service, not only the route's subset v1.
    expect(seen.address).toMatch(/^10\.0\.1\.[123]:9080$/);
    expect(seen).toMatchObject({ method: 'POST', path: '/check/reviews?x=1', body: '{}' });
    expect(seen.headers['host']).toBe('productpage:9080');
    expect(seen.headers['x-envoy-attempt-count']).toBeUndefined();
    // mesh.fetch to the same service takes the route, and its fault.
    expect((await drive(h.clock, h.client.fetch(`http://${REVIEWS}:9080/`))).status).toBe(418);
  });

  it("tries once: a connect failure is not retried, as Istio's default route retries it", async () => {
    const h = harness(planOf(bookinfo()), () => ({ fail: 'connect-failure' }));
    const r = await drive(
      h.clock,
      h.client.cluster.request('details.default.svc.cluster.local', 9080, request()),
    );
    expect(r.kind).toBe('failure');
    expect(h.transport.seen).toHaveLength(1);
    await drive(h.clock, h.client.fetch('http://details.default.svc.cluster.local:9080/details/0'));
    expect(h.transport.seen.length).toBeGreaterThan(2);
  });

  it("balances over the cluster's endpoints with its DestinationRule", async () => {
    const h = harness(planOf(bookinfo()), (req) => ({ status: 200, body: req.address }));
    const addresses = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await drive(h.clock, h.client.cluster.request(REVIEWS, 9080, request()));
      expect(statusOf(r)).toBe(200);
    }
    for (const s of h.transport.seen) addresses.add(s.address);
    expect([...addresses].sort()).toEqual(['10.0.1.1:9080', '10.0.1.2:9080', '10.0.1.3:9080']);
  });

  it('reports a local reply of the cluster as a failure, never as the service answering', async () => {
    const h = harness(planOf(bookinfo()), () => ({ fail: 'connect-failure' }));
    const r = await drive(h.clock, h.client.cluster.request(REVIEWS, 9080, request()));
    expect(r.kind).toBe('failure');
    expect(statusOf(r)).toMatch(/^503 UF via outbound\|9080\|\|reviews\.default\.svc\.cluster\.local: /);
  });

  it('goes straight to host:port, keeping the Host header, when the registry has no such service', async () => {
    const h = harness(planOf(bookinfo()), (req) => ({ status: 200, body: req.address }));
    const r = await drive(h.clock, h.client.cluster.request('authz.example.internal', 8000, request()));
    expect(statusOf(r)).toBe(200);
    expect(h.transport.seen[0]).toMatchObject({
      address: 'authz.example.internal:8000',
      path: '/check/reviews?x=1',
    });
    expect(h.transport.seen[0]!.headers['host']).toBe('productpage:9080');
  });

  it('names an endpoint and its cluster for a gRPC channel', async () => {
    const h = harness(planOf(bookinfo()), () => ({ status: 200 }));
    const e = await h.client.cluster.endpoint(REVIEWS, 9080, null);
    expect(e.address).toMatch(/^10\.0\.1\.[123]:9080$/);
    expect(e.cluster).toBe(`outbound|9080||${REVIEWS}`);
    expect(e.tls).toBeNull();
    e.done(null);
    const direct = await h.client.cluster.endpoint('fd00::1', 9000, null);
    expect(direct).toMatchObject({ address: '[fd00::1]:9000', tls: null, cluster: null });
    direct.done({ kind: 'response', status: 503 });
    expect(h.clusters.records).toEqual([]);
  });

  it("holds a place in the cluster's pool for a gRPC call until it is done, and overflows as 503 UO", async () => {
    const h = harness(planOf(bookinfo()), () => ({ status: 200 }));
    h.clusters.maxRequests = 2;
    const cluster = `outbound|9080||${REVIEWS}`;
    const a = await h.client.cluster.endpoint(REVIEWS, 9080, null);
    const b = await h.client.cluster.endpoint(REVIEWS, 9080, null);
    expect(h.clusters.active.get(cluster)).toBe(2);
    await expect(h.client.cluster.endpoint(REVIEWS, 9080, null)).rejects.toThrow(
      `503 UO: ${cluster} overflowed (max-requests)`,
    );
    a.done({ kind: 'response', status: 200 });
    a.done({ kind: 'response', status: 200 });
    expect(h.clusters.active.get(cluster)).toBe(1);
    b.done(null);
    expect(h.clusters.active.get(cluster)).toBe(0);
    // Only a call that was sent is counted by outlier detection.
    expect(h.clusters.records).toEqual([
      { cluster, host: a.address, outcome: { kind: 'response', status: 200 } },
    ]);
  });

  it('feeds outlier detection with how each gRPC call ended, and skips ejected endpoints', async () => {
    const h = harness(planOf(bookinfo()), () => ({ status: 200 }));
    const e = await h.client.cluster.endpoint(REVIEWS, 9080, null);
    e.done({ kind: 'response', status: 503 });
    expect(h.clusters.records).toEqual([
      { cluster: `outbound|9080||${REVIEWS}`, host: e.address, outcome: { kind: 'response', status: 503 } },
    ]);
    h.clusters.ejected.add(e.address);
    for (let i = 0; i < 4; i++) {
      const next = await h.client.cluster.endpoint(REVIEWS, 9080, null);
      expect(next.address).not.toBe(e.address);
      next.done(null);
    }
  });
});
