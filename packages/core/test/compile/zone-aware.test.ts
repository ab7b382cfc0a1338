import { describe, expect, it } from 'vitest';
import { clusterLocalityLb } from '../../src/compile/locality-lb.js';
import { assignLocalities } from '../../src/compile/locality-priority.js';
import type { Endpoint } from '../../src/compile/plan-types.js';
import { normalizePolicy } from '../../src/compile/traffic-policy.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import {
  effectiveLbSetting,
  localClusterLocalities,
  localServiceEndpoints,
  selfDiscoveryEnabled,
} from '../../src/compile/zone-aware.js';
import { buildRegistry } from '../../src/compile/registry.js';
import { loadConfigText } from '../../src/config/load.js';
import { parseMeshConfig } from '../../src/config/mesh-config-parse.js';

// istio pilot/pkg/networking/core/loadbalancer/loadbalancer_test.go TestGetEffectiveLbSetting
// and TestApplyZoneAwareLoadBalancer, ported to meshlet's compile step.

type Raw = Record<string, unknown>;
const FAILOVER = { failover: [{ from: 'r1', to: 'r2' }] };

function kindOf(
  dr: { locality?: Raw; zoneAware?: Raw },
  mesh: { locality?: Raw; zoneAware?: Raw },
  td = false,
): string {
  const eff = effectiveLbSetting({ locality: dr.locality ?? null, zoneAware: dr.zoneAware ?? null }, td, {
    locality: mesh.locality ?? null,
    zoneAware: mesh.zoneAware ?? null,
  });
  if (eff === null) return 'none';
  if (eff.kind === 'zoneAware')
    return `zoneAware(enabled=${eff.setting.enabled},failover=${eff.setting.failover.length})`;
  return eff.kind;
}

describe('GetEffectiveLbSetting precedence (DR zoneAware > DR locality > Service > mesh zoneAware > mesh locality)', () => {
  const on = { enabled: true };
  const off = { enabled: false };
  it.each([
    ['mesh zone-aware only', {}, { zoneAware: {} }, false, 'zoneAware(enabled=true,failover=0)'],
    ['dr zone-aware only', { zoneAware: FAILOVER }, {}, false, 'zoneAware(enabled=true,failover=1)'],
    [
      'dr zone-aware wins over mesh zone-aware',
      { zoneAware: FAILOVER },
      { zoneAware: {} },
      false,
      'zoneAware(enabled=true,failover=1)',
    ],
    [
      'dr zone-aware wins over mesh locality',
      { zoneAware: {} },
      { locality: on },
      false,
      'zoneAware(enabled=true,failover=0)',
    ],
    ['dr locality wins over mesh zone-aware', { locality: on }, { zoneAware: {} }, false, 'locality'],
    [
      'mesh zone-aware wins over mesh locality',
      {},
      { locality: on, zoneAware: FAILOVER },
      false,
      'zoneAware(enabled=true,failover=1)',
    ],
    ['mesh zone-aware disabled', {}, { zoneAware: off }, false, 'zoneAware(enabled=false,failover=0)'],
    [
      'mesh zone-aware disabled wins over mesh locality enabled',
      {},
      { locality: on, zoneAware: off },
      false,
      'zoneAware(enabled=false,failover=0)',
    ],
    [
      'dr zone-aware disabled overrides mesh locality enabled',
      { zoneAware: off },
      { locality: on },
      false,
      'zoneAware(enabled=false,failover=0)',
    ],
    [
      'dr zone-aware enabled overrides mesh zone-aware disabled',
      { zoneAware: on },
      { zoneAware: off },
      false,
      'zoneAware(enabled=true,failover=0)',
    ],
    ['service traffic distribution wins over mesh zone-aware', {}, { zoneAware: {} }, true, 'distribution'],
    [
      'dr zone-aware wins over service traffic distribution',
      { zoneAware: {} },
      {},
      true,
      'zoneAware(enabled=true,failover=0)',
    ],
    ['dr locality disabled: none', { locality: off }, { zoneAware: {} }, false, 'none'],
  ] as const)('%s', (_name, dr, mesh, td, want) => {
    expect(kindOf(dr, mesh, td)).toBe(want);
  });
});

const workload: WorkloadIdentity = {
  name: 'sleep',
  namespace: 'default',
  serviceAccount: 'sleep',
  labels: { app: 'sleep' },
  locality: 'region1/zone1/subzone1',
};

function ep(locality: string, labels: Record<string, string> = {}): Endpoint {
  return { address: '10.0.0.1', port: 80, labels, serviceAccount: null, weight: 1, locality, network: null };
}

// loadbalancer_test.go buildFakeCluster: region1 ×5 (zones 1/2, subzones), region2, region3.
const FAKE = [
  ep('region1/zone1/subzone1'),
  ep('region1/zone1/subzone2'),
  ep('region1/zone1/subzone3'),
  ep('region1/zone2/subzone1'),
  ep('region1/zone2/subzone2'),
  ep('region2/zone1/subzone1'),
  ep('region3/zone1/subzone1'),
];

const policy = (lb: Raw) => ({ policy: normalizePolicy({ loadBalancer: lb }) });

function priorities(zoneAware: Raw, endpoints = FAKE, w = workload): readonly number[] {
  const lb = clusterLocalityLb(w, policy({ simple: 'ROUND_ROBIN' }), null, undefined, {
    dr: zoneAware,
    mesh: null,
    localCluster: null,
  });
  return assignLocalities(endpoints, lb!).priorities;
}

describe('ApplyZoneAwareLoadBalancer priorities (istio TestApplyZoneAwareLoadBalancer)', () => {
  it('region-buckets without failover: the whole region at priority 0, no outlierDetection needed', () => {
    expect(priorities({ enabled: true })).toEqual([0, 0, 0, 0, 0, 1, 1]);
  });

  it('failover keeps the region at 0, the failover region next, the rest last', () => {
    expect(priorities({ failover: [{ from: 'region1', to: 'region2' }] })).toEqual([0, 0, 0, 0, 0, 1, 2]);
  });

  it('a failover rule from another region compacts the others into one priority', () => {
    expect(priorities({ failover: [{ from: 'region9', to: 'region2' }] })).toEqual([0, 0, 0, 0, 0, 1, 1]);
  });

  it('failoverPriority labels rank first, region buckets within them', () => {
    const w = { ...workload, labels: { app: 'sleep', 'topology.istio.io/network': 'n1' } };
    const eps = [
      ep('region1/zone1/subzone1', { 'topology.istio.io/network': 'n1' }),
      ep('region1/zone2/subzone1', { 'topology.istio.io/network': 'n2' }),
      ep('region2/zone1/subzone1', { 'topology.istio.io/network': 'n1' }),
      ep('region1/zone2/subzone1', { 'topology.istio.io/network': 'n1' }),
    ];
    // network n1 before n2 (2 × 3 keys), then region1 before region2 within n1.
    expect(priorities({ failoverPriority: ['topology.istio.io/network'] }, eps, w)).toEqual([0, 2, 1, 0]);
  });

  it('enabled: false: no priorities at all and Envoy zone routing off (routing_enabled 0%)', () => {
    const lb = clusterLocalityLb(workload, policy({}), null, undefined, {
      dr: { enabled: false },
      mesh: null,
      localCluster: ['region1/zone1/subzone1', 'region1/zone2/subzone1'],
    });
    expect(lb).toBeNull();
  });
});

describe('the cluster zone routing (ZoneAwareLbConfig and the local cluster)', () => {
  const local = ['region1/zone1/subzone1', 'region1/zone2/subzone1'];

  it('zoneAwareLbSetting with a local cluster: minClusterSize passed on, no locality weighting', () => {
    const lb = clusterLocalityLb(workload, policy({}), null, undefined, {
      dr: { minClusterSize: 2 },
      mesh: null,
      localCluster: local,
    })!;
    expect(lb.localityWeighted).toBe(false);
    expect(lb.zoneRouting).toEqual({ minClusterSize: 2, localCluster: local });
  });

  it('zoneAwareLbSetting without self-discovery: priorities, but no zone routing (istiod only warns)', () => {
    const lb = clusterLocalityLb(workload, policy({}), null, undefined, {
      dr: {},
      mesh: null,
      localCluster: null,
    })!;
    expect(lb.zoneAware).not.toBeNull();
    expect(lb.zoneRouting).toBeNull();
  });

  it('mesh zoneAwareLbSetting applies when the DestinationRule sets neither', () => {
    const lb = clusterLocalityLb(workload, policy({}), { enabled: true }, undefined, {
      dr: null,
      mesh: { minClusterSize: 3 },
      localCluster: local,
    })!;
    expect(lb.zoneAware?.minClusterSize).toBe(3);
  });

  it('a locality setting with a local cluster still zone-routes with Envoy defaults (min 6)', () => {
    const lb = clusterLocalityLb(workload, policy({}), { enabled: true }, undefined, {
      dr: null,
      mesh: null,
      localCluster: local,
    })!;
    expect(lb.zoneAware ?? null).toBeNull();
    expect(lb.zoneRouting).toEqual({ minClusterSize: 6, localCluster: local });
    expect(assignLocalities(FAKE, lb).applies).toBe(true);
  });

  it('locality_weighted_lb_config (distribute) wins over zone routing', () => {
    const lb = clusterLocalityLb(
      workload,
      policy({ localityLbSetting: { distribute: [{ from: 'region1/*', to: { 'region1/*': 100 } }] } }),
      null,
      undefined,
      { dr: null, mesh: null, localCluster: local },
    )!;
    expect(lb.localityWeighted).toBe(true);
    expect(lb.zoneRouting ?? null).toBeNull();
  });

  it('PASSTHROUGH has none', () => {
    expect(
      clusterLocalityLb(workload, policy({ simple: 'PASSTHROUGH' }), null, undefined, {
        dr: {},
        mesh: null,
        localCluster: local,
      }),
    ).toBeNull();
  });
});

describe('self-discovery (ISTIO_META_ENABLE_SELF_DISCOVERY) and the local cluster', () => {
  it('reads proxyMetadata, overridden by this process environment, Go ParseBool values', () => {
    const meta = (v: string) => ({ proxyMetadata: { ISTIO_META_ENABLE_SELF_DISCOVERY: v } });
    expect(selfDiscoveryEnabled({}, {})).toBe(false);
    expect(selfDiscoveryEnabled(meta('true'), {})).toBe(true);
    expect(selfDiscoveryEnabled(meta('1'), {})).toBe(true);
    expect(selfDiscoveryEnabled(meta('yes'), {})).toBe(false);
    expect(selfDiscoveryEnabled(meta('true'), { ISTIO_META_ENABLE_SELF_DISCOVERY: 'false' })).toBe(false);
    expect(selfDiscoveryEnabled({}, { ISTIO_META_ENABLE_SELF_DISCOVERY: 'True' })).toBe(true);
  });

  it('keeps the local service endpoints of the same ReplicaSet and region (endpoint_builder.go)', () => {
    const w = { labels: { app: 'sleep', 'pod-template-hash': 'abc' }, locality: 'region1/zone1' };
    const eps = [
      ep('region1/zone1', { 'pod-template-hash': 'abc' }),
      ep('region1/zone2', { 'pod-template-hash': 'abc' }),
      ep('region2/zone3', { 'pod-template-hash': 'abc' }),
      ep('region1/zone2', { 'pod-template-hash': 'old' }),
    ];
    expect(localClusterLocalities(eps, w)).toEqual(['region1/zone1', 'region1/zone2']);
    expect(localClusterLocalities(null, w)).toEqual([]);
  });
});

describe('meshConfig zoneAwareLbSetting', () => {
  it('is read, and known (not an unknown-field error)', () => {
    const { patch, findings } = parseMeshConfig({ zoneAwareLbSetting: { minClusterSize: 3 } });
    expect(findings.filter((f) => f.level === 'Error')).toEqual([]);
    expect(patch.zoneAwareLbSetting).toEqual({ minClusterSize: 3 });
  });
});

describe('the local service (model/context.go SetServiceTargets)', () => {
  it('is the oldest Service selecting the workload, on its first port, with the registry endpoints', () => {
    const svc = (name: string, created: string, port: number) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: sample, creationTimestamp: "${created}" }
spec:
  selector: { app: helloworld }
  ports: [{ name: http, port: ${port} }, { name: grpc, port: 7000 }]
`;
    const other = `
apiVersion: v1
kind: Service
metadata: { name: other, namespace: sample, creationTimestamp: "2020-01-01T00:00:00Z" }
spec:
  selector: { app: other }
  ports: [{ name: http, port: 80 }]
`;
    const snap = loadConfigText(
      [
        svc('hello-new', '2024-01-01T00:00:00Z', 6000),
        svc('hello-old', '2023-01-01T00:00:00Z', 5000),
        other,
      ].map((text, i) => ({ text, file: `d${i}.yaml` })),
    );
    const pod = (address: string, locality: string) => ({
      address,
      port: 5000,
      labels: { app: 'helloworld' },
      locality,
    });
    const registry = buildRegistry(
      snap.resources,
      snap.platform,
      { 'hello-old': [pod('10.0.0.1', 'r1/z1'), pod('10.0.0.2', 'r1/z2')] },
      'sample',
    );
    const w = { namespace: 'sample', labels: { app: 'helloworld', version: 'v1' } };
    const eps = localServiceEndpoints(snap.platform, registry, w);
    expect(eps?.map((e) => [e.address, e.locality])).toEqual([
      ['10.0.0.1', 'r1/z1'],
      ['10.0.0.2', 'r1/z2'],
    ]);
    expect(
      localServiceEndpoints(snap.platform, registry, { namespace: 'sample', labels: { app: 'x' } }),
    ).toBeNull();
  });

  it('counts a ServiceEntry whose workloadSelector picks the workload among its services, oldest first', () => {
    // The serviceentry controller makes such an entry a service target of the pods it
    // selects (model/context.go SetServiceTargets sorts them with the Kubernetes ones).
    const se = (created: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: hello-se, namespace: sample, creationTimestamp: "${created}" }
spec:
  hosts: [hello.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ name: http, number: 8000, targetPort: 5000 }, { name: grpc, number: 7000 }]
  workloadSelector: { labels: { app: helloworld } }
`;
    const svc = `
apiVersion: v1
kind: Service
metadata: { name: hello-svc, namespace: sample, creationTimestamp: "2023-06-01T00:00:00Z" }
spec:
  selector: { app: helloworld }
  ports: [{ name: http, port: 5000 }]
`;
    const pod = (address: string, locality: string) => ({
      address,
      port: 5000,
      labels: { app: 'helloworld' },
      locality,
    });
    const w = { namespace: 'sample', labels: { app: 'helloworld', version: 'v1' } };
    const endpointsOf = (created: string) => {
      const snap = loadConfigText([se(created), svc].map((text, i) => ({ text, file: `d${i}.yaml` })));
      const registry = buildRegistry(
        snap.resources,
        snap.platform,
        { 'hello.internal': [pod('10.0.1.1', 'r1/z1')], 'hello-svc': [pod('10.0.2.1', 'r1/z2')] },
        'sample',
      );
      return localServiceEndpoints(snap.platform, registry, w, snap.resources)?.map((e) => e.address);
    };
    expect(endpointsOf('2023-01-01T00:00:00Z')).toEqual(['10.0.1.1']);
    expect(endpointsOf('2024-01-01T00:00:00Z')).toEqual(['10.0.2.1']);
  });
});
