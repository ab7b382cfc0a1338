import { afterEach, describe, expect, it } from 'vitest';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { inboundServiceLookup } from '../../src/telemetry/inbound-services.js';
import { REVIEWS_V2, snapshotOf } from './helpers.js';

// Istio labels an inbound request with the inbound cluster's `istio.services[0]`
// (istio_stats.cc; the Host header fallback is off on inbound: pilot/pkg/model/telemetry.go
// disableHostHeaderFallback). That list holds the Services selecting the pod whose port
// targets the cluster's port (cluster.go buildInboundClustersFromServiceInstances), oldest
// first, then by hostname (model/context.go SetServiceTargets).

const service = (name: string, ports: string, extra = '') => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default${extra} }
spec: { selector: { app: reviews }, ports: ${ports} }
`;

const lookup = (yaml: string, configured: string | null = null) => {
  const snap = snapshotOf(yaml);
  return inboundServiceLookup({
    workload: REVIEWS_V2,
    platform: snap.platform,
    resources: snap.resources,
    service: configured,
  });
};

const triple = (s: { host: string; name: string; namespace: string }) => [s.host, s.name, s.namespace];

describe('inboundServiceLookup', () => {
  it('takes the Service whose targetPort, else port, is the request port', () => {
    const byPort = lookup(
      [
        service('reviews-api', '[{ name: http, port: 80, targetPort: 9080 }]'),
        service('reviews-admin', '[{ name: http-admin, port: 15000 }]'),
      ].join('---\n'),
    );
    expect(triple(byPort(9080))).toEqual(['reviews-api.default.svc.cluster.local', 'reviews-api', 'default']);
    expect(triple(byPort(15000))).toEqual([
      'reviews-admin.default.svc.cluster.local',
      'reviews-admin',
      'default',
    ]);
    // Port 80 is the Service port, not a port of the pod: no Service targets it, so the
    // request goes through InboundPassthroughCluster (listener_inbound.go buildInboundPassthroughChains).
    expect(triple(byPort(80))).toEqual(['reviews', 'InboundPassthroughCluster', 'default']);
  });

  it('takes the oldest of several Services, then the first hostname', () => {
    const ports = '[{ name: http, port: 9080 }]';
    const dated = lookup(
      [
        service('aaa', ports, ', creationTimestamp: "2024-05-01T00:00:00Z"'),
        service('zzz', ports, ', creationTimestamp: "2024-01-01T00:00:00Z"'),
      ].join('---\n'),
    );
    expect(dated(9080).name).toBe('zzz');
    const undated = lookup([service('reviews-b', ports), service('reviews-a', ports)].join('---\n'));
    expect(undated(9080).name).toBe('reviews-a');
  });

  it('ignores Services of other namespaces or selectors, or without a selector', () => {
    const byPort = lookup(`apiVersion: v1
kind: Service
metadata: { name: elsewhere, namespace: other }
spec: { selector: { app: reviews }, ports: [{ port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { selector: { app: ratings }, ports: [{ port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: manual, namespace: default }
spec: { ports: [{ port: 9080 }] }
`);
    // None selects this pod's port 9080: the inbound passthrough, named for the canonical
    // service, in the workload's namespace (istio_stats.cc populatePeerInfo).
    expect(triple(byPort(9080))).toEqual(['reviews', 'InboundPassthroughCluster', 'default']);
  });

  it('takes a Service whose named targetPort it cannot resolve as reaching the port', () => {
    const byPort = lookup(`apiVersion: v1
kind: Service
metadata: { name: named, namespace: default }
spec: { selector: { app: reviews }, ports: [{ port: 80, targetPort: http }] }
`);
    expect(triple(byPort(9080))).toEqual(['named.default.svc.cluster.local', 'named', 'default']);
  });

  it('assumes the Service named for the canonical service when the config lists none in the namespace', () => {
    const byPort = lookup(`apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: other }
spec: { selector: { app: reviews }, ports: [{ port: 9080 }] }
`);
    expect(triple(byPort(9080))).toEqual(['reviews.default.svc.cluster.local', 'reviews', 'default']);
  });

  it('takes a ServiceEntry whose workloadSelector picks the workload, named by its host, in age order with Services', () => {
    // A ServiceEntry selecting pods makes them its endpoints, and its hosts service targets
    // of the pod (serviceentry controller), on each port's targetPort, else its number.
    const entry = (created: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews-vm, namespace: default, creationTimestamp: "${created}" }
spec:
  hosts: [reviews.vm.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, targetPort: 9080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: reviews } }
`;
    const alone = lookup(entry('2024-01-01T00:00:00Z'));
    expect(triple(alone(9080))).toEqual(['reviews.vm.example.com', 'reviews.vm.example.com', 'default']);
    // The older of a Service and the entry wins.
    const svc = service('reviews', '[{ port: 9080 }]', ', creationTimestamp: "2024-03-01T00:00:00Z"');
    expect(lookup(`${svc}---\n${entry('2024-01-01T00:00:00Z')}`)(9080).host).toBe('reviews.vm.example.com');
    expect(lookup(`${svc}---\n${entry('2024-05-01T00:00:00Z')}`)(9080).host).toBe(
      'reviews.default.svc.cluster.local',
    );
  });

  it('keeps a configured service whatever the Services say', () => {
    const byPort = lookup(service('reviews-api', '[{ port: 9080 }]'), 'reviews.default.svc.cluster.local');
    expect(triple(byPort(9080))).toEqual(['reviews.default.svc.cluster.local', 'reviews', 'default']);
  });

  it('answers the same object for a port every time', () => {
    const byPort = lookup(service('reviews-api', '[{ port: 9080 }]'));
    expect(byPort(9080)).toBe(byPort(9080));
    expect(byPort(8080)).toBe(byPort(8080));
  });
});

describe('MeshTelemetry.inboundService', () => {
  let t: MeshTelemetry | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it('reads the snapshot Services, and a reload recomputes them', () => {
    const first = snapshotOf(service('reviews-api', '[{ port: 9080 }]'));
    t = createMeshTelemetry({
      workload: REVIEWS_V2,
      snapshot: first,
      meshConfig: first.meshConfig,
      otlp: false,
    });
    expect(t.inboundService(9080).host).toBe('reviews-api.default.svc.cluster.local');
    const next = snapshotOf(service('reviews-v2-direct', '[{ port: 9080 }]'));
    t.reload(next);
    expect(t.inboundService(9080).host).toBe('reviews-v2-direct.default.svc.cluster.local');
  });
});
