import { DEFAULT_MESH_CONFIG } from '../config/mesh-config.js';
import type { Cluster, TrafficDistribution } from './plan-types.js';
import { splitLocality, withTopologyLabels, type Locality } from './locality.js';
import type { WorkloadIdentity } from './workload.js';

type Raw = Readonly<Record<string, unknown>>;

/** `localityLbSetting`, normalized: empty lists for what is unset. */
export interface LocalityLbSetting {
  /** `distribute[]`, each `to` in the order written; null when unset or empty. */
  readonly distribute:
    | readonly {
        readonly from: string;
        readonly to: readonly (readonly [string, number])[];
      }[]
    | null;
  readonly failover: readonly { readonly from: string; readonly to: string }[];
  readonly failoverPriority: readonly string[];
}

/**
 * Locality load balancing for one cluster as istiod configures it for one proxy
 * (pilot/pkg/networking/core/loadbalancer/loadbalancer.go `LocalityLBSettings.ApplyToCluster`).
 */
export interface ClusterLocalityLb {
  /** The calling workload's locality, `region/zone/subzone` ('' when unknown). */
  readonly proxy: string;
  /** The proxy's labels with its topology labels added (`failoverPriority` matches them). */
  readonly proxyLabels: Readonly<Record<string, string>>;
  readonly setting: LocalityLbSetting;
  /** Failover priorities apply only with outlierDetection (loadbalancer.go:137). */
  readonly failover: boolean;
  /** Envoy `locality_weighted_lb_config`: pick a locality by weight, then a host in it (loadbalancer.go:139). */
  readonly localityWeighted: boolean;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function list(v: unknown): readonly Raw[] {
  return Array.isArray(v) ? v.filter((x): x is Raw => typeof x === 'object' && x !== null) : [];
}

/** Reads a validated `localityLbSetting`. */
export function normalizeLocalitySetting(raw: Raw): LocalityLbSetting {
  const distribute = list(raw['distribute']).map((d) => {
    const to = typeof d['to'] === 'object' && d['to'] !== null ? (d['to'] as Raw) : {};
    return {
      from: str(d['from']),
      to: Object.entries(to).map(([k, w]): [string, number] => [k, typeof w === 'number' ? w : 0]),
    };
  });
  return {
    distribute: distribute.length > 0 ? distribute : null,
    failover: list(raw['failover']).map((f) => ({ from: str(f['from']), to: str(f['to']) })),
    failoverPriority: Array.isArray(raw['failoverPriority'])
      ? (raw['failoverPriority'] as unknown[]).filter((x): x is string => typeof x === 'string')
      : [],
  };
}

/**
 * istio loadbalancer.go `GetEffectiveLbSetting`: the DestinationRule's setting, else the
 * mesh's; `enabled: false` at the level that wins turns locality load balancing off.
 */
export function effectiveLocalitySetting(dr: Raw | null, mesh: Raw | null): LocalityLbSetting | null {
  const chosen = dr ?? mesh;
  if (chosen === null || chosen['enabled'] === false) return null;
  return normalizeLocalitySetting(chosen);
}

/**
 * The cluster's locality load balancing for `workload`, or null when none applies: no
 * effective setting, or a PASSTHROUGH cluster (ORIGINAL_DST has no endpoints to rank).
 * `meshSetting` is MeshConfig `localityLbSetting` (Istio's default: enabled).
 */
export function clusterLocalityLb(
  workload: WorkloadIdentity,
  cluster: Pick<Cluster, 'policy'>,
  meshSetting: Raw | null = DEFAULT_MESH_CONFIG.localityLbSetting,
  trafficDistribution?: TrafficDistribution,
): ClusterLocalityLb | null {
  const lb = cluster.policy.loadBalancer;
  if (lb.simple === 'PASSTHROUGH') return null;
  // loadbalancer.go GetEffectiveLbSetting: the DestinationRule's, else the Service's traffic
  // distribution (failover forced on: endpoint health, not outlier detection, says when to
  // spill over), else the mesh's.
  const forced = lb.localityLbSetting === null && trafficDistribution !== undefined;
  const setting = forced
    ? distributionSetting(trafficDistribution)
    : effectiveLocalitySetting(lb.localityLbSetting, meshSetting);
  if (setting === null) return null;
  const failover = forced || cluster.policy.outlierDetection !== null;
  const proxy = workload.locality ?? '';
  return {
    proxy,
    proxyLabels: withTopologyLabels(workload.labels, proxy),
    setting,
    failover,
    localityWeighted:
      (failover && (setting.failover.length > 0 || setting.failoverPriority.length > 0)) ||
      setting.distribute !== null,
  };
}

/** The failoverPriority istiod uses for a Service's traffic distribution (loadbalancer.go). */
function distributionSetting(d: TrafficDistribution): LocalityLbSetting {
  const zone = ['topology.istio.io/network', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'];
  return {
    distribute: null,
    failover: [],
    failoverPriority:
      d === 'PreferSameZone' ? zone : [...zone, 'topology.istio.io/subzone', 'kubernetes.io/hostname'],
  };
}

/** istio networking/util/util.go `LocalityMatch`: `*` or an omitted part matches anything. */
export function localityMatch(locality: Locality, rule: string): boolean {
  const r = splitLocality(rule);
  return (
    (r.region === '*' || locality.region === r.region) &&
    (r.zone === '*' || r.zone === '' || locality.zone === r.zone) &&
    (r.subzone === '*' || r.subzone === '' || locality.subzone === r.subzone)
  );
}

/** istio util.go `LbPriority`: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere. */
export function lbPriority(proxy: Locality, endpoint: Locality): number {
  if (proxy.region !== endpoint.region) return 3;
  if (proxy.zone !== endpoint.zone) return 2;
  return proxy.subzone === endpoint.subzone ? 0 : 1;
}
