import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { StaticEndpoint } from '../../../src/compile/registry.js';
import { loadConfigText } from '../../../src/config/load.js';
import { hashOfKey } from '../../../src/outbound/upstream/hash.js';
import type { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildRing, DEFAULT_MAX_RING_SIZE, ringPick } from '../../../src/outbound/upstream/ring-hash.js';
import type { UpstreamCluster, UpstreamHost } from '../../../src/outbound/upstream/types.js';
import { ctx, harness, tally } from './support.js';
import { HELLOWORLD_CLUSTER, helloworldService } from '../../helpers/helloworld.js';

// The order of a priority's localities, as Envoy keeps it: the proxy's own locality first,
// then the others by (region, zone, sub_zone), each compared as a string (envoy
// source/common/upstream/upstream_impl.cc PriorityStateManager::updateClusterPrioritySet,
// a std::map keyed by LocalityLess; source/common/upstream/locality.h). Under
// locality-weighted consistent hashing the ring takes its hosts in that order
// (thread_aware_lb_impl.cc normalizeLocalityWeights), and the running sum of ring_hash_lb.cc
// hands the leftover fraction of an entry to whichever host comes first.

const SERVICE = helloworldService();

function cluster(localities: readonly string[], proxy: string, to: string): UpstreamCluster {
  const pods: StaticEndpoint[] = localities.map((locality, i) => ({
    address: `10.0.0.${i + 1}`,
    port: 5000,
    labels: { app: 'helloworld' },
    locality,
  }));
  const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 1 } }
      localityLbSetting:
        distribute:
          - from: "${proxy}/*"
            to: ${to}
`;
  const snap = loadConfigText([SERVICE, dr].map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const workload = {
    name: 'sleep',
    namespace: 'sample',
    serviceAccount: 'sleep',
    labels: { app: 'sleep' },
    locality: proxy,
  };
  const plan = compilePlan(snap, workload, { endpoints: { helloworld: pods } });
  return harness(5).manager.get(plan.outbound.cluster(HELLOWORLD_CLUSTER)!);
}

/**
 * Envoy's ring for the cluster's hosts taken in `order` (localities, one host each) with
 * their folded weights: entries per locality, and whether every key lands where Envoy's
 * ring puts it.
 */
function envoyRing(c: UpstreamCluster, order: readonly string[], weights: readonly number[] | null) {
  const hosts = order.map((l) => c.hosts().find((h) => h.endpoint.locality === l)! as HostState);
  const ring = buildRing(hosts, 1, DEFAULT_MAX_RING_SIZE, weights);
  const entries = tally(ring.hosts.map((h) => h.endpoint.locality ?? ''));
  let mismatches = 0;
  for (let i = 0; i < 2000; i++) {
    const key = `user-${i}`;
    const want = ringPick(ring, hashOfKey(key), 0, null)!.id;
    if (c.pick(ctx({ hashKey: key }))!.id !== want) mismatches++;
  }
  return { entries, mismatches };
}

describe('locality order inside a priority (Envoy updateClusterPrioritySet)', () => {
  it('puts the proxy locality first, so it, not the first listed endpoint, gets the leftover entry', () => {
    // Listed far-first; weights 0.5 / 0.3 / 0.2 give a 5-entry ring (scale 1 / 0.2).
    const c = cluster(
      ['region3/zone4', 'region1/zone2', 'region1/zone1'],
      'region1/zone1',
      '{ "region3/*": 50, "region1/zone2/*": 30, "region1/zone1/*": 20 }',
    );
    // Envoy: region1/zone1 (0.2) → 1 entry, region1/zone2 (0.3) → 2, region3/zone4 (0.5) → 2.
    const r = envoyRing(c, ['region1/zone1', 'region1/zone2', 'region3/zone4'], [0.2, 0.3, 0.5]);
    expect(r.entries).toEqual({ 'region1/zone1': 1, 'region1/zone2': 2, 'region3/zone4': 2 });
    expect(r.mismatches).toBe(0);
  });

  it('orders the other localities by region, then zone, then sub_zone, not by the joined string', () => {
    // As joined strings "r-1/z" < "r/z-1" ('-' < '/'); by components "r" < "r-1".
    const c = cluster(['r-1/z', 'r/z-1', 's/z'], 's/z', '{ "r-1/*": 50, "r/*": 30, "s/*": 20 }');
    // Envoy: s/z (proxy, 0.2) → 1 entry, r/z-1 (0.3) → 2, r-1/z (0.5) → 2.
    const r = envoyRing(c, ['s/z', 'r/z-1', 'r-1/z'], [0.2, 0.3, 0.5]);
    expect(r.entries).toEqual({ 's/z': 1, 'r/z-1': 2, 'r-1/z': 2 });
    expect(r.mismatches).toBe(0);
  });
});

// A priority's flat host list (the ring without locality weights, the round-robin order) is
// the ClusterLoadAssignment's: istiod lists the localities by their label string
// (pilot/pkg/xds/endpoints/endpoint_builder.go `generate`, sort.Strings) and Envoy keeps that
// order (eds.cc registers hosts as listed; thread_aware_lb_impl.cc normalizeWeights reads
// `hosts()` / `healthyHosts()` when there are no locality weights).
describe('host order inside a priority (istiod CLA order)', () => {
  it('takes a failover priority’s hosts by locality label, not as the endpoints are listed', () => {
    const se = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: sample }
spec:
  hosts: [ext.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints:
    - { address: 10.0.0.1, locality: region1/zone1 }
    - { address: 10.0.0.2, locality: region3/a, weight: 5 }
    - { address: 10.0.0.3, locality: region2/b, weight: 3 }
    - { address: 10.0.0.4, locality: region10/c, weight: 2 }
`;
    const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ext, namespace: sample }
spec:
  host: ext.example.com
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 1 } }
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100 }
`;
    const snap = loadConfigText([se, dr].map((text, i) => ({ text, file: `doc-${i}.yaml` })));
    const errors = snap.diagnostics.filter((d) => d.level === 'Error');
    if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
    const workload = {
      name: 'sleep',
      namespace: 'sample',
      serviceAccount: 'sleep',
      labels: {},
      locality: 'region1/zone1',
    };
    const plan = compilePlan(snap, workload);
    const c = harness(5).manager.get(plan.outbound.cluster('outbound|80||ext.example.com')!);
    const local = c.hosts().find((h) => h.endpoint.address === '10.0.0.1') as UpstreamHost;
    c.record(local, { kind: 'response', status: 503 });
    expect(local.ejected).toBe(true);
    // Priority 1 now takes all the load. Envoy's ring: region10/c (0.2) → 1 entry,
    // region2/b (0.3) → 2, region3/a (0.5) → 2 (as listed it would be 3 / 1 / 1).
    const r = envoyRing(c, ['region10/c', 'region2/b', 'region3/a'], null);
    expect(r.entries).toEqual({ 'region10/c': 1, 'region2/b': 2, 'region3/a': 2 });
    expect(r.mismatches).toBe(0);
  });
});
