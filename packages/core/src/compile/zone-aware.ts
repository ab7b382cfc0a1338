/**
 * `zoneAwareLbSetting` (Istio 1.31) as istiod turns it into a cluster's EDS priorities and
 * Envoy `ZoneAwareLbConfig` (pilot/pkg/networking/core/loadbalancer/loadbalancer.go
 * `ZoneAwareLBSettings`, `ApplyZoneAwareLoadBalancer`), and the proxy's self-discovery
 * `local_cluster` Envoy compares the upstream's zones with (pilot/pkg/xds/endpoints/
 * endpoint_builder.go `filterIstioEndpoint`).
 */
import type { Resource } from '../config/resource.js';
import type { PlatformResource } from '../config/snapshot.js';
import { parseGoBool } from '../config/validate/go-bool.js';
import { isRecord } from '../config/validate/is-record.js';
import type { Endpoint, Service } from './plan-types.js';
import { resolveShortName } from './hosts.js';
import { splitLocality } from './locality.js';
import { byAgeThenHost, selectingServiceEntries, selectingServices } from './selecting-services.js';

type Raw = Readonly<Record<string, unknown>>;

/** Envoy's `min_cluster_size` default (load_balancer_impl.cc `ZoneAwareLoadBalancerBase`). */
export const ENVOY_MIN_CLUSTER_SIZE = 6;

/** `zoneAwareLbSetting`, normalized. */
export interface ZoneAwareLbSetting {
  /** Unset is on (`routingEnabled`); false makes istiod emit `routing_enabled: 0%`. */
  readonly enabled: boolean;
  readonly failover: readonly { readonly from: string; readonly to: string }[];
  readonly failoverPriority: readonly string[];
  /** `min_cluster_size` (Envoy's 6 when unset). */
  readonly minClusterSize: number;
}

/** Which setting wins for a cluster (loadbalancer.go `GetEffectiveLbSetting`). */
export type EffectiveLbSetting =
  | { readonly kind: 'zoneAware'; readonly setting: ZoneAwareLbSetting }
  | { readonly kind: 'locality'; readonly raw: Raw; readonly forced: false }
  | { readonly kind: 'distribution'; readonly forced: true }
  | null;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Reads a validated `zoneAwareLbSetting`. */
export function normalizeZoneAwareSetting(raw: Raw): ZoneAwareLbSetting {
  const failover = Array.isArray(raw['failover'])
    ? (raw['failover'] as unknown[])
        .filter((f): f is Raw => typeof f === 'object' && f !== null)
        .map((f) => ({
          from: typeof f['from'] === 'string' ? f['from'] : '',
          to: typeof f['to'] === 'string' ? f['to'] : '',
        }))
    : [];
  const min = raw['minClusterSize'];
  return {
    enabled: raw['enabled'] !== false,
    failover,
    failoverPriority: strings(raw['failoverPriority']),
    minClusterSize: typeof min === 'number' && min >= 1 ? min : ENVOY_MIN_CLUSTER_SIZE,
  };
}

/**
 * istio loadbalancer.go `GetEffectiveLbSetting`: DestinationRule `zoneAwareLbSetting`, then
 * its `localityLbSetting` (`enabled: false` = none), then the Service's traffic distribution,
 * then meshConfig `zoneAwareLbSetting`, then meshConfig `localityLbSetting`. A zone-aware
 * setting with `enabled: false` still wins at its level (it turns Envoy's zone routing off).
 */
export function effectiveLbSetting(
  dr: { readonly locality: Raw | null; readonly zoneAware: Raw | null },
  hasTrafficDistribution: boolean,
  mesh: { readonly locality: Raw | null; readonly zoneAware: Raw | null },
): EffectiveLbSetting {
  if (dr.zoneAware !== null) return { kind: 'zoneAware', setting: normalizeZoneAwareSetting(dr.zoneAware) };
  if (dr.locality !== null)
    return dr.locality['enabled'] === false ? null : { kind: 'locality', raw: dr.locality, forced: false };
  if (hasTrafficDistribution) return { kind: 'distribution', forced: true };
  if (mesh.zoneAware !== null)
    return { kind: 'zoneAware', setting: normalizeZoneAwareSetting(mesh.zoneAware) };
  if (mesh.locality !== null)
    return mesh.locality['enabled'] === false
      ? null
      : { kind: 'locality', raw: mesh.locality, forced: false };
  return null;
}

/**
 * istio loadbalancer.go `applyZoneAwareRegionalFailover`: 0 for the proxy's region, 1 for the
 * `failover.to` of the first entry `from` the proxy's region, 2 for any other region,
 * composed under `prior` (the `failoverPriority` rank) as `prior × 3 + bucket`.
 */
export function zoneAwareRegionKey(
  prior: number,
  proxyRegion: string,
  endpointRegion: string,
  failover: ZoneAwareLbSetting['failover'],
): number {
  let bucket = 2;
  if (endpointRegion === proxyRegion) bucket = 0;
  else {
    const rule = failover.find((f) => f.from === proxyRegion);
    if (rule !== undefined && rule.to === endpointRegion) bucket = 1;
  }
  return prior * 3 + bucket;
}

/** Go `strconv.ParseBool`, as pilot-agent reads `ISTIO_META_ENABLE_SELF_DISCOVERY`; YAML may give a bool. */
function parseBool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  return typeof v === 'string' ? parseGoBool(v) : null;
}

/** The proxy metadata env var that adds `local_cluster` (pilot-agent options.go). */
export const SELF_DISCOVERY_ENV = 'ISTIO_META_ENABLE_SELF_DISCOVERY';

/**
 * Whether the proxy has a self-discovery `local_cluster` (pilot-agent options.go
 * `EnableSelfDiscovery`, node metadata `ENABLE_SELF_DISCOVERY`): this process's
 * `ISTIO_META_ENABLE_SELF_DISCOVERY` when set, else meshConfig
 * `defaultConfig.proxyMetadata.ISTIO_META_ENABLE_SELF_DISCOVERY` (proxyMetadata becomes the
 * agent's environment). Off by default.
 */
export function selfDiscoveryEnabled(
  defaultConfig: Raw,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  const own = parseBool(env[SELF_DISCOVERY_ENV]);
  if (own !== null) return own;
  const meta = defaultConfig['proxyMetadata'];
  if (typeof meta !== 'object' || meta === null) return false;
  return parseBool((meta as Raw)[SELF_DISCOVERY_ENV]) ?? false;
}

/** Kubernetes' ReplicaSet / Argo Rollouts labels istiod matches the local cluster on. */
const REPLICA_LABELS = ['pod-template-hash', 'rollouts-pod-template-hash'];

/**
 * The localities of the proxy's self-discovery `local_cluster` (endpoint_builder.go
 * `filterIstioEndpoint` for `SelfDiscoveryCluster`): the endpoints of its local service (the
 * first service selecting it, on that service's first port: model/context.go
 * `SetServiceTargets`) that share its `pod-template-hash` / `rollouts-pod-template-hash`
 * labels and its region. `localService` null: no local service, an empty local cluster.
 */
export function localClusterLocalities(
  localService: readonly Endpoint[] | null,
  workload: { readonly labels: Readonly<Record<string, string>>; readonly locality?: string },
): string[] {
  if (localService === null) return [];
  const region = splitLocality(workload.locality ?? '').region;
  return localService
    .filter((e) => REPLICA_LABELS.every((l) => (workload.labels[l] ?? '') === (e.labels[l] ?? '')))
    .filter((e) => workload.locality === undefined || splitLocality(e.locality ?? '').region === region)
    .map((e) => e.locality ?? '');
}

/**
 * The endpoints of the proxy's local service (model/context.go `SetServiceTargets`: the
 * oldest of the Kubernetes Services and the ServiceEntries with a `workloadSelector` in its
 * namespace that select it, ties by hostname, on its first port), as the registry holds
 * them; null when nothing selects it.
 */
export function localServiceEndpoints(
  platform: readonly PlatformResource[],
  registry: ReadonlyMap<string, Service>,
  workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> },
  resources: readonly Resource[] = [],
): readonly Endpoint[] | null {
  const candidates: { host: string; created: number | null; port: number }[] = [];
  for (const e of selectingServiceEntries(workload, resources)) {
    const first = e.ports[0];
    if (first !== undefined)
      candidates.push({
        host: resolveShortName(e.host, workload.namespace),
        created: e.created,
        port: first.number,
      });
  }
  for (const svc of selectingServices(workload, platform)) {
    const ports = Array.isArray(svc.spec['ports']) ? (svc.spec['ports'] as unknown[]) : [];
    const first = ports.find((x): x is Raw => isRecord(x) && typeof x['port'] === 'number');
    if (first !== undefined)
      candidates.push({ host: svc.host, created: svc.created, port: first['port'] as number });
  }
  candidates.sort(byAgeThenHost);
  const chosen = candidates[0];
  if (chosen === undefined) return null;
  return registry.get(chosen.host)?.endpoints[String(chosen.port)] ?? [];
}
