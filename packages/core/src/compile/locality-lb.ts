import { DEFAULT_MESH_CONFIG } from '../config/mesh-config.js';
import type { Cluster, TrafficDistribution } from './plan-types.js';
import { splitLocality, withTopologyLabels, type Locality } from './locality.js';
import type { WorkloadIdentity } from './workload.js';
import { effectiveLbSetting, ENVOY_MIN_CLUSTER_SIZE, type ZoneAwareLbSetting } from './zone-aware.js';

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
  /**
   * The effective `zoneAwareLbSetting` when it wins and is enabled: the priorities are then
   * istiod's region buckets (compile/zone-aware.ts), not locality proximity.
   */
  readonly zoneAware?: ZoneAwareLbSetting | null;
  /** Envoy's zone-aware routing within priority 0; null without a local cluster or when turned off. */
  readonly zoneRouting?: ZoneRouting | null;
}

/**
 * Envoy's zone-aware routing for a cluster (load_balancer_impl.cc `ZoneAwareLoadBalancerBase`),
 * active whenever the proxy has a self-discovery `local_cluster` and the cluster has no
 * `locality_weighted_lb_config`: Envoy does it by default (`routing_enabled` 100%), which is
 * why istiod writes `routing_enabled: 0%` for `zoneAwareLbSetting.enabled: false`.
 */
export interface ZoneRouting {
  /** `min_cluster_size`: fewer healthy priority-0 hosts and there is no zone routing. */
  readonly minClusterSize: number;
  /** The locality (`region/zone/subzone`) of each `local_cluster` host. */
  readonly localCluster: readonly string[];
}

/**
 * The mesh-wide locality inputs every cluster of a plan shares: meshConfig
 * `localityLbSetting` and `zoneAwareLbSetting`, and the proxy's self-discovery
 * `local_cluster` (null without self-discovery).
 */
export interface MeshLocalityInputs {
  readonly localityLbSetting: Raw;
  readonly zoneAwareLbSetting: Raw | null;
  readonly localCluster: readonly string[] | null;
}

/** What zone-aware load balancing needs besides the DestinationRule's locality setting. */
export interface ZoneAwareInputs {
  /** The DestinationRule's `zoneAwareLbSetting` (null when unset). */
  readonly dr: Raw | null;
  /** MeshConfig `zoneAwareLbSetting` (null when unset). */
  readonly mesh: Raw | null;
  /** The localities of the self-discovery `local_cluster` (zone-aware.ts `localClusterLocalities`); null without self-discovery. */
  readonly localCluster: readonly string[] | null;
}

const NO_LOCALITY_SETTING: LocalityLbSetting = { distribute: null, failover: [], failoverPriority: [] };

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
  zone?: ZoneAwareInputs,
): ClusterLocalityLb | null {
  const lb = cluster.policy.loadBalancer;
  if (lb.simple === 'PASSTHROUGH') return null;
  if (zone === undefined) return localityOnly(workload, cluster, meshSetting, trafficDistribution);
  const proxy = workload.locality ?? '';
  const eff = effectiveLbSetting(
    { locality: lb.localityLbSetting, zoneAware: zone.dr },
    trafficDistribution !== undefined,
    { locality: meshSetting, zoneAware: zone.mesh },
  );
  if (eff?.kind === 'zoneAware') {
    // `enabled: false`: no priorities and `routing_enabled: 0%` (loadbalancer.go ApplyToCluster).
    if (!eff.setting.enabled) return null;
    return {
      proxy,
      proxyLabels: withTopologyLabels(workload.labels, proxy),
      setting: NO_LOCALITY_SETTING,
      failover: true,
      localityWeighted: false,
      zoneAware: eff.setting,
      zoneRouting:
        zone.localCluster === null
          ? null
          : { minClusterSize: eff.setting.minClusterSize, localCluster: zone.localCluster },
    };
  }
  const base = localityOnly(workload, cluster, meshSetting, trafficDistribution);
  if (zone.localCluster === null || base?.localityWeighted === true) return base;
  // No zone-aware setting, but a local cluster: Envoy's default zone routing applies.
  const zoneRouting: ZoneRouting = {
    minClusterSize: ENVOY_MIN_CLUSTER_SIZE,
    localCluster: zone.localCluster,
  };
  if (base !== null) return { ...base, zoneRouting };
  return {
    proxy,
    proxyLabels: withTopologyLabels(workload.labels, proxy),
    setting: NO_LOCALITY_SETTING,
    failover: false,
    localityWeighted: false,
    zoneRouting,
  };
}

/** `clusterLocalityLb` without zone-aware inputs: locality load balancing only. */
function localityOnly(
  workload: WorkloadIdentity,
  cluster: Pick<Cluster, 'policy'>,
  meshSetting: Raw | null,
  trafficDistribution: TrafficDistribution | undefined,
): ClusterLocalityLb | null {
  const lb = cluster.policy.loadBalancer;
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
