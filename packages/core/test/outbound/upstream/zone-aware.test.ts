import { describe, expect, it } from 'vitest';
import { clusterLocalityLb } from '../../../src/compile/locality-lb.js';
import type { Cluster, Endpoint } from '../../../src/compile/plan-types.js';
import { normalizePolicy } from '../../../src/compile/traffic-policy.js';
import type { Random } from '../../../src/runtime/random.js';
import type { UpstreamCluster } from '../../../src/outbound/upstream/types.js';
import type { RuntimeCluster } from '../../../src/outbound/upstream/upstream-cluster.js';
import {
  chooseZone,
  zoneRoutingState,
  type UpstreamLocality,
} from '../../../src/outbound/upstream/zone-aware.js';
import { harness, NO_CONTEXT, tally } from './support.js';

// Envoy's zone-aware cases (test/extensions/load_balancing_policies/round_robin/
// round_robin_lb_test.cc ZoneAware*), their expectations ported: the locality lists are in
// Envoy's order (the local one first), `random()` draws given exactly.

/** Draws `values` as Envoy's 64-bit `random()` mocks do (`% 10000` etc. see the same value). */
function draws(...values: number[]): Random {
  return { next: () => (values.shift() ?? 0) / 0x1_0000_0000 };
}

const up = (...pairs: [string, number][]): UpstreamLocality[] =>
  pairs.map(([locality, healthy]) => ({ locality, healthy }));

describe('zone-aware routing state and locality choice (Envoy ZoneAwareLoadBalancerBase)', () => {
  it('ZoneAwareDifferentZoneSize: 2/3 local, the rest to the only zone with residual capacity', () => {
    // Local B (first); upstream B, A, C one host each; local cluster B, A; min_cluster_size 3.
    const s = zoneRoutingState(up(['r/B', 1], ['r/A', 1], ['r/C', 1]), 'r/B', ['r/A', 'r/B'], 3);
    expect(s).toEqual({ kind: 'residual', localPercent: 6666, residual: [0, 0, 3333] });
    expect(chooseZone(s, draws(0))).toBe(0);
    expect(chooseZone(s, draws(6665))).toBe(0);
    expect(chooseZone(s, draws(6666, 0))).toBe(2);
    expect(chooseZone(s, draws(9999, 3333))).toBe(2);
  });

  it('ZoneAwareRoutingSmallZone: a small local zone spills by residual capacity', () => {
    const s = zoneRoutingState(up(['r/A', 1], ['r/B', 2], ['r/C', 2]), 'r/A', ['r/A', 'r/B', 'r/C'], 5);
    expect(s).toEqual({ kind: 'residual', localPercent: 6000, residual: [0, 667, 1334] });
    expect(chooseZone(s, draws(100))).toBe(0);
    expect(chooseZone(s, draws(9999, 2))).toBe(1);
  });

  it('ZoneAwareNoMatchingZones: no upstream in the local zone, all by residual capacity', () => {
    const s = zoneRoutingState(up(['r/D', 1], ['r/E', 1], ['r/F', 1]), 'r/A', ['r/A', 'r/B', 'r/C'], 3);
    expect(s).toEqual({ kind: 'residual', localPercent: 0, residual: [3333, 6666, 9999] });
    expect(chooseZone(s, draws(0, 3332))).toBe(0);
    expect(chooseZone(s, draws(0, 3333))).toBe(1);
    expect(chooseZone(s, draws(0, 6665))).toBe(1);
    expect(chooseZone(s, draws(0, 6666))).toBe(2);
    expect(chooseZone(s, draws(0, 9998))).toBe(2);
  });

  it('ZoneAwareRoutingLargeZoneSwitchOnOff: local share ≤ upstream share routes all directly', () => {
    const s = zoneRoutingState(up(['r/B', 1], ['r/A', 1], ['r/C', 1]), 'r/B', ['r/A', 'r/B', 'r/C'], 3);
    expect(s).toEqual({ kind: 'direct' });
    expect(chooseZone(s, draws(9999, 9999))).toBe(0);
  });

  it('no zone routing: too small, one upstream zone, one local zone, or no local host in the own zone', () => {
    const three = up(['r/A', 2], ['r/B', 2], ['r/C', 2]);
    const local = ['r/A', 'r/B', 'r/C'];
    expect(zoneRoutingState(three, 'r/A', local, 6).kind).toBe('direct');
    expect(zoneRoutingState(three, 'r/A', local, 7)).toEqual({ kind: 'none' });
    expect(zoneRoutingState(up(['r/A', 9]), 'r/A', local, 1)).toEqual({ kind: 'none' });
    expect(zoneRoutingState(three, 'r/A', ['r/A', 'r/A'], 1)).toEqual({ kind: 'none' });
    expect(zoneRoutingState(three, 'r/A', ['r/B', 'r/C'], 1)).toEqual({ kind: 'none' });
  });
});

// Through the cluster pick: helloworld in three zones of region1 plus one pod in region2.
const WORKLOAD = {
  name: 'sleep',
  namespace: 'sample',
  serviceAccount: 'sleep',
  labels: { app: 'sleep' },
  locality: 'region1/zone1',
};

function pods(perZone: readonly number[]): Endpoint[] {
  const zones = ['region1/zone1', 'region1/zone2', 'region1/zone3'];
  const out: Endpoint[] = [];
  perZone.forEach((n, z) => {
    for (let i = 1; i <= n; i++)
      out.push({
        address: `10.1.${z + 1}.${i}`,
        port: 5000,
        labels: { app: 'helloworld' },
        serviceAccount: null,
        weight: 1,
        locality: zones[z]!,
        network: null,
      });
  });
  out.push({ ...out[0]!, address: '10.2.1.1', locality: 'region2/zone9' });
  return out;
}

function cluster(
  endpoints: readonly Endpoint[],
  lb: Record<string, unknown>,
  zoneAware: Record<string, unknown> | null,
  localCluster: readonly string[] | null,
): Cluster {
  const policy = normalizePolicy({
    loadBalancer: lb,
    outlierDetection: {
      consecutive5xxErrors: 1,
      interval: '1s',
      baseEjectionTime: '1m',
      maxEjectionPercent: 100,
    },
  });
  return {
    key: 'outbound|5000||helloworld.sample.svc.cluster.local',
    host: 'helloworld.sample.svc.cluster.local',
    port: 5000,
    subset: null,
    status: 'ok',
    subsetLabels: {},
    endpoints,
    policy,
    destinationRules: [],
    localityLb: clusterLocalityLb(WORKLOAD, { policy }, { enabled: true }, undefined, {
      dr: zoneAware,
      mesh: null,
      localCluster,
    }),
  };
}

function byZone(c: UpstreamCluster, n = 3000): Record<string, number> {
  return tally(Array.from({ length: n }, () => c.pick(NO_CONTEXT)?.endpoint.locality ?? 'none'));
}

/** Six sidecars of the caller, two per zone. */
const EVEN_LOCAL = [
  'region1/zone1',
  'region1/zone1',
  'region1/zone2',
  'region1/zone2',
  'region1/zone3',
  'region1/zone3',
];

describe('zone-aware load balancing through the cluster pick', () => {
  for (const simple of ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM']) {
    it(`${simple}: all traffic stays in the caller zone when its share of callers ≤ its share of servers`, () => {
      const { manager } = harness(3);
      const c = manager.get(cluster(pods([2, 2, 2]), { simple }, {}, EVEN_LOCAL));
      expect(byZone(c)).toEqual({ 'region1/zone1': 3000 });
    });
  }

  it('spills the surplus to zones with residual capacity when the caller zone is short of servers', () => {
    // Servers 2/4/4 (20/40/40 %), callers 2/2/2 (33/33/33 %): 20/33.33 = 60 % stays local,
    // the 40 % rest splits evenly between zone2 and zone3 (residual 667 each).
    const { manager } = harness(3);
    const c = manager.get(cluster(pods([2, 4, 4]), { simple: 'ROUND_ROBIN' }, {}, EVEN_LOCAL));
    const n = 6000;
    const counts = byZone(c, n);
    expect(counts['region2/zone9']).toBeUndefined();
    expect(counts['region1/zone1']! / n).toBeCloseTo(0.6, 1);
    expect(counts['region1/zone2']! / n).toBeCloseTo(0.2, 1);
    expect(counts['region1/zone3']! / n).toBeCloseTo(0.2, 1);
  });

  it('balances over every zone of the region below minClusterSize (Envoy default 6)', () => {
    const { manager } = harness(3);
    const c = manager.get(cluster(pods([1, 1, 1]), { simple: 'ROUND_ROBIN' }, {}, EVEN_LOCAL));
    expect(byZone(c)).toEqual({ 'region1/zone1': 1000, 'region1/zone2': 1000, 'region1/zone3': 1000 });
  });

  it('without a local cluster (no self-discovery) Envoy does no zone routing', () => {
    const { manager } = harness(3);
    const c = manager.get(cluster(pods([2, 2, 2]), { simple: 'ROUND_ROBIN' }, {}, null));
    expect(byZone(c)).toEqual({ 'region1/zone1': 1000, 'region1/zone2': 1000, 'region1/zone3': 1000 });
  });

  it('consistent hashing ignores zones (ring hash is not a zone-aware balancer)', () => {
    const { manager } = harness(3);
    const c = manager.get(
      cluster(pods([2, 2, 2]), { consistentHash: { useSourceIp: true } }, {}, EVEN_LOCAL),
    ) as RuntimeCluster;
    const zones = new Set(
      Array.from(
        { length: 300 },
        (_, i) => c.pick({ exclude: new Set(), hashKey: `k${i}` })?.endpoint.locality,
      ),
    );
    expect(zones.size).toBe(3);
  });

  it('moves to the next priority (another region) only when the region is unhealthy', () => {
    const { manager } = harness(3);
    const c = manager.get(cluster(pods([2, 2, 2]), { simple: 'ROUND_ROBIN' }, {}, EVEN_LOCAL));
    for (const h of c.hosts().filter((x) => x.endpoint.locality!.startsWith('region1/')))
      c.record(h, { kind: 'response', status: 503 });
    expect(byZone(c, 500)).toEqual({ 'region2/zone9': 500 });
  });

  it('enabled: false turns it off: every endpoint, every region shares the load', () => {
    const { manager } = harness(3);
    const c = manager.get(
      cluster(pods([1, 1, 1]), { simple: 'ROUND_ROBIN' }, { enabled: false }, EVEN_LOCAL),
    );
    expect(Object.keys(byZone(c)).sort()).toEqual([
      'region1/zone1',
      'region1/zone2',
      'region1/zone3',
      'region2/zone9',
    ]);
  });
});
