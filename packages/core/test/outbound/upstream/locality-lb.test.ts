import { describe, expect, it } from 'vitest';
import { clustersText, clusterStatuses } from '../../../src/admin/clusters-status.js';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { Cluster } from '../../../src/compile/plan-types.js';
import type { StaticEndpoint } from '../../../src/compile/registry.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { UpstreamCluster, UpstreamHost } from '../../../src/outbound/upstream/types.js';
import type { RuntimeCluster } from '../../../src/outbound/upstream/upstream-cluster.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { ctx, harness, NO_CONTEXT, tally } from './support.js';
import { HELLOWORLD_CLUSTER, helloworldService } from '../../helpers/helloworld.js';

// The istio.io "Locality failover" layout: the caller in region1/zone1, helloworld with two
// pods in each of region1/zone1, region1/zone2, region2/zone3 and region3/zone4.
const SERVICE = helloworldService();

const OUTLIER = '{ consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100 }';

const ZONES = ['region1/zone1', 'region1/zone2', 'region2/zone3', 'region3/zone4'];
const ADDR = ['10.1.1', '10.1.2', '10.2.3', '10.3.4'];
const pods: StaticEndpoint[] = ZONES.flatMap((locality, z) =>
  [1, 2].map((n) => ({
    address: `${ADDR[z]}.${n}`,
    port: 5000,
    labels: { app: 'helloworld', version: n === 1 ? 'v1' : 'v2' },
    locality,
  })),
);

function cluster(trafficPolicy: string, locality = 'region1/zone1', meshYaml: string | null = null): Cluster {
  const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
${trafficPolicy}
`;
  const docs = meshYaml === null ? [SERVICE, dr] : [istioConfigMap(meshYaml), SERVICE, dr];
  const snap = loadConfigText(docs.map((text, i) => ({ text, file: `doc-${i}.yaml` })));
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const workload = {
    name: 'sleep',
    namespace: 'sample',
    serviceAccount: 'sleep',
    labels: { app: 'sleep', version: 'v1' },
    locality,
  };
  const plan = compilePlan(snap, workload, { endpoints: { helloworld: pods } });
  // The plan carries the cluster's locality load balancing (compile/clusters.ts).
  return plan.outbound.cluster(HELLOWORLD_CLUSTER)!;
}

const FAILOVER = `
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region3 }]
    outlierDetection: ${OUTLIER}`;

function byZone(c: UpstreamCluster, n = 1000, seed = NO_CONTEXT): Record<string, number> {
  const ids = Array.from({ length: n }, () => c.pick(seed)?.endpoint.locality ?? 'none');
  return tally(ids);
}

function eject(c: UpstreamCluster, ...addresses: string[]): void {
  for (const a of addresses) {
    const h = c.hosts().find((x) => x.endpoint.address === a) as UpstreamHost;
    c.record(h, { kind: 'response', status: 503 });
    expect(h.ejected).toBe(true);
  }
}

describe('locality failover through the cluster pick (Envoy priorities)', () => {
  it('keeps all traffic in the caller zone while it is healthy', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(FAILOVER));
    expect(byZone(c)).toEqual({ 'region1/zone1': 1000 });
  });

  it('sends 30% to the next priority when half the local zone is ejected (140% overprovisioning)', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(FAILOVER));
    eject(c, '10.1.1.1');
    // P0 health min(100, 140 × 1/2) = 70; P1 (region1/zone2) takes the other 30.
    expect((c as RuntimeCluster).prioritySet!.loads(Number.NaN, 0)).toEqual([70, 30, 0, 0]);
    const counts = byZone(c, 4000);
    expect(counts['region1/zone1']! / 4000).toBeCloseTo(0.7, 1);
    expect(counts['region1/zone2']! / 4000).toBeCloseTo(0.3, 1);
    const ids = tally(Array.from({ length: 200 }, () => c.pick(NO_CONTEXT)!.id));
    expect(ids['10.1.1.1:5000']).toBeUndefined();
  });

  it('fails over to the failover region, not the other one, when region1 is down', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(FAILOVER));
    eject(c, '10.1.1.1', '10.1.1.2', '10.1.2.1', '10.1.2.2');
    expect(byZone(c)).toEqual({ 'region3/zone4': 1000 });
  });

  it('answers no host when every endpoint is ejected and minHealthPercent is 0', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(FAILOVER));
    eject(c, ...pods.map((p) => p.address));
    expect(c.pick(NO_CONTEXT)).toBeNull();
  });

  it('splits load by host count when every priority is in panic (minHealthPercent 50)', () => {
    const { manager } = harness(5);
    const c = manager.get(
      cluster(FAILOVER.replace('maxEjectionPercent: 100', 'maxEjectionPercent: 100, minHealthPercent: 50')),
    );
    eject(c, ...pods.map((p) => p.address));
    expect((c as RuntimeCluster).prioritySet!.loads(Number.NaN, 50)).toEqual([25, 25, 25, 25]);
    const counts = byZone(c, 4000);
    for (const z of ZONES) expect(counts[z]! / 4000).toBeCloseTo(0.25, 1);
  });

  it('does not fail over without outlierDetection: every endpoint shares the load', () => {
    const { manager } = harness(5);
    const c = manager.get(
      cluster(`
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region3 }]`),
    );
    expect((c as RuntimeCluster).prioritySet).toBeNull();
    expect(byZone(c)).toEqual({
      'region1/zone1': 250,
      'region1/zone2': 250,
      'region2/zone3': 250,
      'region3/zone4': 250,
    });
  });

  it('ranks by proximity under the mesh default (no localityLbSetting) once outlierDetection is set', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(`    outlierDetection: ${OUTLIER}`));
    expect(byZone(c)).toEqual({ 'region1/zone1': 1000 });
  });

  it('follows meshConfig localityLbSetting when the DestinationRule sets none (GetEffectiveLbSetting)', () => {
    const outlierOnly = `    outlierDetection: ${OUTLIER}`;
    expect(
      cluster(outlierOnly, 'region1/zone1', 'localityLbSetting: { enabled: false }').localityLb,
    ).toBeNull();
    const meshFailover = cluster(
      outlierOnly,
      'region1/zone1',
      'localityLbSetting: { enabled: true, failover: [{ from: region1, to: region3 }] }',
    );
    expect(meshFailover.localityLb?.setting.failover).toEqual([{ from: 'region1', to: 'region3' }]);
    const c = harness(5).manager.get(meshFailover);
    eject(c, '10.1.1.1', '10.1.1.2', '10.1.2.1', '10.1.2.2');
    expect(Object.keys(byZone(c))).toEqual(['region3/zone4']);
    // The DestinationRule's own setting wins over the mesh's.
    expect(
      cluster(FAILOVER, 'region1/zone1', 'localityLbSetting: { enabled: false }').localityLb,
    ).not.toBeNull();
  });

  it('splits by distribute weights and sends nothing to localities no rule names', () => {
    const { manager } = harness(5);
    const c = manager.get(
      cluster(`
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        distribute:
          - from: region1/zone1/*
            to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/*": 10 }`),
    );
    const counts = byZone(c, 1000);
    expect(counts).toEqual({ 'region1/zone1': 700, 'region1/zone2': 200, 'region3/zone4': 100 });
  });

  it('ranks by failoverPriority labels: same version first', () => {
    const { manager } = harness(5);
    const c = manager.get(
      cluster(`
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        failoverPriority: [version, topology.kubernetes.io/region]
    outlierDetection: ${OUTLIER}`),
    );
    const ids = tally(Array.from({ length: 100 }, () => c.pick(NO_CONTEXT)!.endpoint.address));
    // version v1 in region1 is priority 0: 10.1.1.1 and 10.1.2.1.
    expect(ids).toEqual({ '10.1.1.1': 50, '10.1.2.1': 50 });
    eject(c, '10.1.1.1', '10.1.2.1');
    // Then v1 elsewhere (priority 1), before any v2.
    const after = tally(Array.from({ length: 100 }, () => c.pick(NO_CONTEXT)!.endpoint.address));
    expect(after).toEqual({ '10.2.3.1': 50, '10.3.4.1': 50 });
  });

  it('keeps consistent hashing inside the caller zone, one ring per priority', () => {
    const { manager } = harness(5);
    const c = manager.get(
      cluster(`
    loadBalancer:
      consistentHash: { httpHeaderName: x-user }
    outlierDetection: ${OUTLIER}`),
    );
    const zones = new Set<string | null>();
    for (let i = 0; i < 200; i++) {
      const first = c.pick(ctx({ hashKey: `user-${i}` }))!;
      zones.add(first.endpoint.locality);
      // The same key reaches the same host again.
      expect(c.pick(ctx({ hashKey: `user-${i}` }))!.id).toBe(first.id);
    }
    expect([...zones]).toEqual(['region1/zone1']);
  });

  it('retries avoid previous hosts within the chosen priority', () => {
    const { manager } = harness(5);
    const c = manager.get(cluster(FAILOVER));
    for (let i = 0; i < 20; i++)
      expect(c.pick(ctx({ exclude: new Set(['10.1.1.1:5000']) }))!.id).toBe('10.1.1.2:5000');
  });

  it('costs nothing without locality: no priority set when the workload has no locality and endpoints none', () => {
    const { manager } = harness(5);
    const plain = cluster(FAILOVER);
    const c = manager.get({ ...plain, localityLb: null });
    expect((c as RuntimeCluster).prioritySet).toBeNull();
  });
});

describe('/clusters locality', () => {
  it('prints region, zone and sub_zone per host as Envoy does (clusters_handler.cc)', () => {
    const snap = loadConfigText([{ text: SERVICE, file: 'svc.yaml' }]);
    const workload = { name: 'sleep', namespace: 'sample', serviceAccount: 'sleep', labels: {} };
    const plan = compilePlan(snap, workload, {
      endpoints: { helloworld: [{ address: '10.1.1.1', port: 5000, locality: 'region1/zone1/rack7' }] },
    });
    const statuses = clusterStatuses(plan, undefined);
    const host = statuses.find((s) => s.name === HELLOWORLD_CLUSTER)!.host_statuses[0]!;
    expect(host.locality).toEqual({ region: 'region1', zone: 'zone1', sub_zone: 'rack7' });
    const text = clustersText(statuses);
    expect(text).toContain(`${HELLOWORLD_CLUSTER}::10.1.1.1:5000::region::region1\n`);
    expect(text).toContain(`${HELLOWORLD_CLUSTER}::10.1.1.1:5000::zone::zone1\n`);
    expect(text).toContain(`${HELLOWORLD_CLUSTER}::10.1.1.1:5000::sub_zone::rack7\n`);
  });
});
