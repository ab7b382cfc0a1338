import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { StaticEndpoint } from '../../../src/compile/registry.js';
import { loadConfigText } from '../../../src/config/load.js';
import { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildMaglev, maglevPick } from '../../../src/outbound/upstream/maglev.js';
import { localityWeightedHosts } from '../../../src/outbound/upstream/priority-set.js';
import { buildRing, ringPick, type Ring } from '../../../src/outbound/upstream/ring-hash.js';
import { ctx, h64, harness, loopbackEndpoints, tally } from './support.js';
import { HELLOWORLD_CLUSTER, helloworldService } from '../../helpers/helloworld.js';

// Consistent hashing with locality weights: Envoy folds each locality's weight into its hosts'
// ring (or Maglev table) weights, `host weight / locality's host weight sum × locality weight /
// sum of locality weights`, healthy hosts only unless in panic, zero-weight localities left
// out (envoy source/extensions/load_balancing_policies/common/thread_aware_lb_impl.cc
// normalizeWeights / normalizeLocalityWeights / normalizeHostWeights). Expectations ported
// from envoy test/extensions/load_balancing_policies/ring_hash/ring_hash_lb_test.cc.

const U64_MAX = 0xffffffffffffffffn;

function groups(ports: number[][], hostWeights: number[][], localityWeights: number[]) {
  return ports.map((ps, i) => {
    const hosts = loopbackEndpoints(ps, hostWeights[i]).map((e) => new HostState(e));
    return { weight: localityWeights[i]!, hosts, healthy: hosts };
  });
}

function ring(g: ReturnType<typeof groups>, size: number): Ring {
  const { hosts, weights } = localityWeightedHosts(g, false);
  return buildRing(hosts, size, size, weights);
}

const port = (r: Ring, hash: bigint) => ringPick(r, h64(hash), 0, null)!.endpoint.port;

describe('ring hash with locality weights (Envoy normalizeLocalityWeights)', () => {
  it('gives each host its share of its locality’s weight (HostAndLocalityWeightedTinyRing)', () => {
    const r = ring(
      groups(
        [
          [90, 91],
          [92, 93],
        ],
        [
          [1, 2],
          [1, 2],
        ],
        [1, 2],
      ),
      9,
    );
    expect(r.hosts).toHaveLength(9);
    const expected: [bigint, number][] = [
      [928266305478181108n, 92],
      [3851675632748031481n, 93],
      [5583722120771150861n, 91],
      [6311230543546372928n, 91],
      [7700377290971790572n, 93],
      [12559126875973811811n, 93],
      [13444792449719432967n, 92],
      [13784988426630141778n, 93],
      [16117243373044804889n, 90],
    ];
    for (const [hash, want] of expected) expect(port(r, hash)).toBe(want);
  });

  it('splits a large ring by host and locality weight (HostAndLocalityWeightedLargeRing)', () => {
    const r = ring(
      groups(
        [
          [90, 91],
          [92, 93],
        ],
        [
          [1, 2],
          [1, 2],
        ],
        [1, 2],
      ),
      9216,
    );
    expect(r.hosts).toHaveLength(9216);
    const counts = [0, 0, 0, 0];
    for (let i = 0n; i < 9000n; i++) counts[port(r, i * (U64_MAX / 9000n)) - 90]!++;
    expect(counts).toEqual([924, 2009, 2053, 4014]);
  });

  it('leaves out a locality of weight 0 (LocalityWeightedLargeRing)', () => {
    const r = ring(groups([[90], [91], [92], [93]], [[1], [1], [1], [1]], [1, 2, 3, 0]), 6144);
    expect(r.hosts).toHaveLength(6144);
    const counts = [0, 0, 0, 0];
    for (let i = 0n; i < 6000n; i++) counts[port(r, i * (U64_MAX / 6000n)) - 90]!++;
    expect(counts).toEqual([987, 1932, 3081, 0]);
  });

  it('keeps the lopsided proportion in a ring too small for every host (LopsidedWeightSmallScale)', () => {
    const all = Array.from({ length: 1024 }, (_, i) => i);
    const r = ring(groups([[0], all.slice(1)], [[1], all.slice(1).map(() => 1)], [127, 1]), 1024);
    expect(r.hosts).toHaveLength(1024);
    expect(Math.max(...Object.values(tally(r.hosts.map((h) => h.id))))).toBe(1016);
    const expected: [bigint, number][] = [
      [11664790346325243808n, 1],
      [15894554872961148518n, 128],
      [13958138884277627155n, 256],
      [15803774069438192949n, 384],
      [3829253010855396576n, 512],
      [17918147347826565154n, 640],
      [6442769608292299103n, 768],
      [5881074926069334434n, 896],
    ];
    for (const [hash, want] of expected) expect(port(r, hash)).toBe(want);
  });

  it('uses healthy hosts only, unless the priority is in panic; the weight sum keeps empty localities', () => {
    const g = groups([[90, 91], [92]], [[1, 1], [1]], [1, 1]);
    g[0]!.healthy = [g[0]!.hosts[0]!];
    const healthy = localityWeightedHosts(g, false);
    expect(healthy.hosts.map((h) => h.endpoint.port)).toEqual([90, 92]);
    expect(healthy.weights).toEqual([0.5, 0.5]);
    const panic = localityWeightedHosts(g, true);
    expect(panic.hosts.map((h) => h.endpoint.port)).toEqual([90, 91, 92]);
    expect(panic.weights).toEqual([0.25, 0.25, 0.5]);
    g[1]!.healthy = [];
    // The second locality's weight still counts: the ring holds half the weight.
    expect(localityWeightedHosts(g, false).weights).toEqual([0.5]);
  });

  it('fills a Maglev table from the same weights', () => {
    const g = groups(
      [
        [90, 91],
        [92, 93],
      ],
      [
        [1, 2],
        [1, 2],
      ],
      [1, 2],
    );
    const { hosts, weights } = localityWeightedHosts(g, false);
    const t = buildMaglev(hosts, 65537, weights);
    const entries = tally(Array.from(t.slots, (i) => t.hosts[i]!.id));
    // 1/9, 2/9, 2/9, 4/9 of 65537.
    expect(entries['127.0.0.1:90']! / 65537).toBeCloseTo(1 / 9, 2);
    expect(entries['127.0.0.1:93']! / 65537).toBeCloseTo(4 / 9, 2);
    expect(maglevPick(t, h64(0n), 0, null)).not.toBeNull();
  });
});

// The istio.io locality layout: the caller in region1/zone1, two pods per zone.
const SERVICE = helloworldService();
const ZONES = ['region1/zone1', 'region1/zone2', 'region2/zone3', 'region3/zone4'];
const ADDR = ['10.1.1', '10.1.2', '10.2.3', '10.3.4'];
const pods: StaticEndpoint[] = ZONES.flatMap((locality, z) =>
  [1, 2].map((n) => ({ address: `${ADDR[z]}.${n}`, port: 5000, labels: { app: 'helloworld' }, locality })),
);

describe('consistentHash with localityLbSetting.distribute through the cluster pick', () => {
  it('sends keys to localities by their distribute weights, on one ring', () => {
    const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: x-user }
      localityLbSetting:
        distribute:
          - from: region1/zone1/*
            to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/*": 10 }
`;
    const snap = loadConfigText([SERVICE, dr].map((text, i) => ({ text, file: `doc-${i}.yaml` })));
    const workload = {
      name: 'sleep',
      namespace: 'sample',
      serviceAccount: 'sleep',
      labels: { app: 'sleep' },
      locality: 'region1/zone1',
    };
    const plan = compilePlan(snap, workload, { endpoints: { helloworld: pods } });
    const c = harness(5).manager.get(plan.outbound.cluster(HELLOWORLD_CLUSTER)!);
    const zones = tally(
      Array.from({ length: 4000 }, (_, i) => c.pick(ctx({ hashKey: `user-${i}` }))!.endpoint.locality ?? ''),
    );
    expect(Object.keys(zones).sort()).toEqual(['region1/zone1', 'region1/zone2', 'region3/zone4']);
    expect(zones['region1/zone1']! / 4000).toBeCloseTo(0.7, 1);
    expect(zones['region1/zone2']! / 4000).toBeCloseTo(0.2, 1);
    expect(zones['region3/zone4']! / 4000).toBeCloseTo(0.1, 1);
    // The same key still reaches the same host.
    expect(c.pick(ctx({ hashKey: 'user-1' }))!.id).toBe(c.pick(ctx({ hashKey: 'user-1' }))!.id);
  });
});
