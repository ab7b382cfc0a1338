import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { clusterLocalityLb } from '../../src/compile/locality-lb.js';
import { assignLocalities } from '../../src/compile/locality-priority.js';
import type { Cluster } from '../../src/compile/plan-types.js';
import type { StaticEndpoint } from '../../src/compile/registry.js';
import { validateWorkload } from '../../src/compile/workload.js';
import { workloadFromEnv } from '../../src/mesh/workload-env.js';
import { snapshotOf } from './helpers.js';
import { HELLOWORLD_CLUSTER, helloworldService } from '../helpers/helloworld.js';

// The istio.io "Locality failover" task: sleep in region1/zone1 calls helloworld, deployed in
// region1/zone1, region1/zone2, region2/zone3 and region3/zone4, with this DestinationRule.
const SERVICE = helloworldService();
const FAILOVER_DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    connectionPool: { http: { maxRequestsPerConnection: 1 } }
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region3 }]
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m }
`;
const sleep = { name: 'sleep', namespace: 'sample', serviceAccount: 'sleep', labels: { app: 'sleep' } };

const pods: StaticEndpoint[] = [
  { address: '10.1.1.1', port: 5000, labels: { app: 'helloworld' }, locality: 'region1/zone1' },
  { address: '10.1.2.1', port: 5000, labels: { app: 'helloworld' }, locality: 'region1/zone2' },
  { address: '10.2.3.1', port: 5000, labels: { app: 'helloworld' }, locality: 'region2/zone3' },
  // A pod whose locality comes from its `istio-locality` label, dots as separators.
  { address: '10.3.4.1', port: 5000, labels: { app: 'helloworld', 'istio-locality': 'region3.zone4' } },
];

function compiled(docs: string[], workload: object = { ...sleep, locality: 'region1/zone1' }) {
  const plan = compilePlan(snapshotOf(...docs), workload as typeof sleep, {
    endpoints: { helloworld: pods },
  });
  const cluster = plan.outbound.cluster(HELLOWORLD_CLUSTER) as Cluster;
  return { plan, cluster, lb: cluster.localityLb ?? null };
}

function priorities(docs: string[], workload?: object): Record<string, number> {
  const { cluster, lb } = compiled(docs, workload);
  if (lb === null) return {};
  const a = assignLocalities(cluster.endpoints, lb);
  return Object.fromEntries(cluster.endpoints.map((e, i) => [e.address, a.priorities[i]!]));
}

describe('locality of the workload and of endpoints', () => {
  it('takes an explicit workload locality, else the istio-locality label with dots, else topology labels', () => {
    expect(validateWorkload({ ...sleep, locality: 'region1/zone1/sub' }).locality).toBe('region1/zone1/sub');
    expect(validateWorkload({ ...sleep, labels: { 'istio-locality': 'region1.zone1' } }).locality).toBe(
      'region1/zone1',
    );
    expect(
      validateWorkload({
        ...sleep,
        labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': 'z' },
      }).locality,
    ).toBe('r/z/');
    expect(validateWorkload(sleep).locality).toBeUndefined();
    expect(() => validateWorkload({ ...sleep, locality: 3 })).toThrow(/locality/);
  });

  it('passes createMesh({ workload: { locality } }) through the environment defaults', () => {
    const w = workloadFromEnv({ locality: 'region1/zone1' }, {}, '/nonexistent');
    expect(w.locality).toBe('region1/zone1');
  });

  it('gives static endpoints their locality, or their istio-locality label', () => {
    const { cluster } = compiled([SERVICE]);
    expect(cluster.endpoints.map((e) => e.locality)).toEqual([
      'region1/zone1',
      'region1/zone2',
      'region2/zone3',
      'region3/zone4',
    ]);
  });

  it('reads a WorkloadEntry locality from its istio-locality label when the field is unset', () => {
    const we = `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm, namespace: sample }
spec:
  address: 10.9.0.1
  labels: { app: helloworld, istio-locality: region2.zone3 }
`;
    const plan = compilePlan(snapshotOf(SERVICE, we), sleep);
    expect(plan.outbound.cluster(HELLOWORLD_CLUSTER)!.endpoints.map((e) => e.locality)).toEqual([
      'region2/zone3',
    ]);
  });
});

describe('locality priorities (istio loadbalancer.go)', () => {
  it('ranks the locality-failover task: own zone, own region, the failover region, the rest', () => {
    expect(priorities([SERVICE, FAILOVER_DR])).toEqual({
      '10.1.1.1': 0,
      '10.1.2.1': 1,
      '10.3.4.1': 2,
      '10.2.3.1': 3,
    });
  });

  it('ranks by proximity alone under the mesh default (enabled, no failover list)', () => {
    const dr = FAILOVER_DR.replace(/ {6}localityLbSetting:[\s\S]*?to: region3 }]\n/, '');
    expect(priorities([SERVICE, dr])).toEqual({ '10.1.1.1': 0, '10.1.2.1': 1, '10.2.3.1': 2, '10.3.4.1': 2 });
  });

  it('gives no failover priorities without outlierDetection', () => {
    const dr = FAILOVER_DR.replace(/\n {4}outlierDetection:.*\n/, '\n');
    const { cluster, lb } = compiled([SERVICE, dr]);
    expect(lb?.failover).toBe(false);
    expect(assignLocalities(cluster.endpoints, lb!).priorities).toEqual([0, 0, 0, 0]);
    expect(assignLocalities(cluster.endpoints, lb!).applies).toBe(false);
  });

  it('turns off with enabled: false', () => {
    const dr = FAILOVER_DR.replace('enabled: true', 'enabled: false');
    expect(compiled([SERVICE, dr]).lb).toBeNull();
  });

  it('weights localities by distribute and leaves out the ones no rule names', () => {
    const dr = FAILOVER_DR.replace(
      /localityLbSetting:[\s\S]*?to: region3 }]\n/,
      `localityLbSetting:
        distribute:
          - from: region1/zone1/*
            to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/*": 10 }
`,
    );
    const { cluster, lb } = compiled([SERVICE, dr]);
    const a = assignLocalities(cluster.endpoints, lb!);
    expect(a.priorities).toEqual([0, 0, -1, 0]);
    expect(Object.fromEntries(a.groupWeights)).toEqual({
      '0|region1/zone1': 70,
      '0|region1/zone2': 20,
      '0|region3/zone4': 10,
    });
    expect(lb!.localityWeighted).toBe(true);
  });

  it('ranks by failoverPriority labels, the proxy topology labels included', () => {
    const dr = FAILOVER_DR.replace(
      /localityLbSetting:[\s\S]*?to: region3 }]\n/,
      `localityLbSetting:
        failoverPriority: [topology.kubernetes.io/region, version]
`,
    );
    const labelled = pods.map((p, i) => ({
      ...p,
      labels: { ...p.labels, version: i % 2 === 0 ? 'v1' : 'v2' },
    }));
    const plan = compilePlan(
      snapshotOf(SERVICE, dr),
      { ...sleep, labels: { app: 'sleep', version: 'v1' }, locality: 'region1/zone1' },
      { endpoints: { helloworld: labelled } },
    );
    const cluster = plan.outbound.cluster(HELLOWORLD_CLUSTER)!;
    const a = assignLocalities(cluster.endpoints, clusterLocalityLb(plan.workload, cluster)!);
    // region1 + v1: 0; region1 + v2: 1; other region: 2 (n - 0 with n = 2, compacted).
    expect(a.priorities).toEqual([0, 1, 2, 2]);
  });

  it('honours a failoverPriority label=value override', () => {
    const dr = FAILOVER_DR.replace(
      /localityLbSetting:[\s\S]*?to: region3 }]\n/,
      `localityLbSetting:
        failoverPriority: [topology.kubernetes.io/region=region2]
`,
    );
    expect(priorities([SERVICE, dr])).toEqual({ '10.1.1.1': 1, '10.1.2.1': 1, '10.2.3.1': 0, '10.3.4.1': 1 });
  });
});

// Kubernetes Service `spec.trafficDistribution` (or the networking.istio.io/traffic-distribution
// annotation on the Service, then on its Namespace): istiod ranks endpoints by the caller's
// network, region and zone (PreferSameNode adds subzone and node) and forces failover on,
// without outlierDetection (pilot/pkg/model/service.go GetTrafficDistribution,
// networking/core/loadbalancer/loadbalancer.go GetEffectiveLbSetting: DR > service > mesh).
describe('Service trafficDistribution (istio GetEffectiveLbSetting)', () => {
  const service = (extra: string, annotations = '') => `
apiVersion: v1
kind: Service
metadata: { name: helloworld, namespace: sample${annotations} }
spec:
  selector: { app: helloworld }
  ports: [{ name: http, port: 5000 }]
${extra}`;

  it('PreferClose ranks same zone, same region, then the rest, with no DestinationRule', () => {
    const docs = [service('  trafficDistribution: PreferClose')];
    const { cluster, lb } = compiled(docs);
    expect(lb?.failover).toBe(true);
    expect(lb?.setting.failoverPriority).toEqual([
      'topology.istio.io/network',
      'topology.kubernetes.io/region',
      'topology.kubernetes.io/zone',
    ]);
    expect(assignLocalities(cluster.endpoints, lb!).applies).toBe(true);
    const p = priorities(docs);
    expect(p['10.1.1.1']).toBe(0);
    expect(p['10.1.2.1']).toBe(1);
    expect(p['10.2.3.1']).toBe(2);
    expect(p['10.3.4.1']).toBe(2);
  });

  it('reads PreferSameZone from the Service annotation, then from its Namespace', () => {
    const annotated = service(
      '',
      ', annotations: { networking.istio.io/traffic-distribution: PreferSameZone }',
    );
    expect(compiled([annotated]).lb?.failover).toBe(true);
    const namespace = `
apiVersion: v1
kind: Namespace
metadata: { name: sample, annotations: { networking.istio.io/traffic-distribution: PreferClose } }
`;
    expect(compiled([namespace, service('')]).lb?.failover).toBe(true);
    // Unknown values mean Any: no locality ranking without outlierDetection.
    const unknown = service('', ', annotations: { networking.istio.io/traffic-distribution: Nearby }');
    expect(compiled([unknown]).lb?.failover).toBe(false);
    expect(compiled([service('')]).lb?.failover).toBe(false);
  });

  it("PreferSameNode adds subzone and the node's hostname label", () => {
    const { lb } = compiled([service('  trafficDistribution: PreferSameNode')]);
    expect(lb?.setting.failoverPriority).toEqual([
      'topology.istio.io/network',
      'topology.kubernetes.io/region',
      'topology.kubernetes.io/zone',
      'topology.istio.io/subzone',
      'kubernetes.io/hostname',
    ]);
  });

  it("a DestinationRule's localityLbSetting wins over the Service's trafficDistribution", () => {
    const dr = FAILOVER_DR.replace(/\n {4}outlierDetection:.*\n/, '\n');
    const { lb } = compiled([service('  trafficDistribution: PreferClose'), dr]);
    expect(lb?.failover).toBe(false);
    expect(lb?.setting.failover).toEqual([{ from: 'region1', to: 'region3' }]);
  });
});
