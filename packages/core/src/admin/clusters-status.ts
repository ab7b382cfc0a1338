import { splitLocality } from '../compile/locality.js';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
import type { ClusterManager, UpstreamClusterStats } from '../outbound/upstream/types.js';

/** One endpoint of a cluster with its health, as Envoy's `/clusters?format=json` `host_statuses[]`. */
export interface HostStatus {
  readonly address: { readonly socket_address: { readonly address: string; readonly port_value: number } };
  /** `rq_active` when the cluster has runtime state (requests in flight on the host). */
  readonly stats: readonly { readonly name: string; readonly value: number }[];
  readonly health_status: {
    readonly eds_health_status: 'HEALTHY';
    /** Ejected by outlier detection right now. */
    readonly failed_outlier_check: boolean;
  };
  readonly weight: number;
  /** Envoy's `core.Locality`, empty parts left out as proto JSON does; null when unknown. */
  readonly locality: HostLocality | null;
}

export interface HostLocality {
  readonly region?: string;
  readonly zone?: string;
  readonly sub_zone?: string;
}

function hostLocality(locality: string | null): HostLocality | null {
  if (locality === null || locality === '') return null;
  const { region, zone, subzone } = splitLocality(locality);
  return {
    ...(region !== '' ? { region } : {}),
    ...(zone !== '' ? { zone } : {}),
    ...(subzone !== '' ? { sub_zone: subzone } : {}),
  };
}

/** One cluster of Envoy's `/clusters?format=json` `cluster_statuses[]`. */
export interface ClusterStatus {
  readonly name: string;
  readonly added_via_api: true;
  readonly circuit_breakers: {
    readonly max_connections: number;
    readonly max_pending_requests: number;
    readonly max_requests: number;
    readonly max_retries: number;
  };
  readonly host_statuses: readonly HostStatus[];
  /** Meshlet's counters for the cluster (overflows, ejections); null before its first request. */
  readonly meshlet_stats: UpstreamClusterStats | null;
}

/** Only what `/clusters` reads of a `ClusterManager`. */
export type ClusterStateSource = Pick<ClusterManager, 'get' | 'stats'>;

function hostStatus(
  address: string,
  port: number,
  weight: number,
  locality: string | null,
  ejected: boolean,
  active: number | null,
): HostStatus {
  return {
    address: { socket_address: { address, port_value: port } },
    stats: active === null ? [] : [{ name: 'rq_active', value: active }],
    health_status: { eds_health_status: 'HEALTHY', failed_outlier_check: ejected },
    weight,
    locality: hostLocality(locality),
  };
}

function hostsOf(cluster: Cluster, manager: ClusterStateSource | undefined): readonly HostStatus[] {
  const stats = manager?.stats(cluster.key) ?? null;
  // Ask the manager only for a cluster it already runs (`get` would create one and arm its
  // sweep timer) and only when the plan has the endpoints: a runtime cluster fed by DNS
  // would be reset to the plan's (empty) list by `get(cluster)`.
  if (manager !== undefined && stats !== null && cluster.endpoints.length > 0) {
    return manager
      .get(cluster)
      .hosts()
      .map((h) =>
        hostStatus(
          h.endpoint.address,
          h.endpoint.port,
          h.endpoint.weight,
          h.endpoint.locality,
          h.ejected,
          h.active,
        ),
      );
  }
  return cluster.endpoints.map((e) => hostStatus(e.address, e.port, e.weight, e.locality, false, null));
}

/**
 * The state of every plan cluster, as Envoy's `/clusters` reports it: circuit-breaker
 * thresholds from `connectionPool` and, per endpoint, whether outlier detection has
 * ejected it (`failed_outlier_check`). Runtime state comes from the cluster manager;
 * a cluster no request has used yet shows its plan endpoints, all healthy.
 */
export function clusterStatuses(plan: MeshPlan, manager: ClusterStateSource | undefined): ClusterStatus[] {
  const out: ClusterStatus[] = [];
  const keys = Object.keys(plan.outbound.clusters).sort();
  for (const key of keys) {
    const c = plan.outbound.clusters[key] as Cluster;
    const pool = c.policy.connectionPool;
    out.push({
      name: key,
      added_via_api: true,
      circuit_breakers: {
        max_connections: pool.tcp.maxConnections,
        max_pending_requests: pool.http.http1MaxPendingRequests,
        max_requests: pool.http.http2MaxRequests,
        max_retries: pool.http.maxRetries,
      },
      host_statuses: hostsOf(c, manager),
      meshlet_stats: manager?.stats(key) ?? null,
    });
  }
  return out;
}

/**
 * Envoy's text `/clusters` format: `<cluster>::<key>::<value>` lines, cluster-level
 * thresholds first, then per host `cx_active`/`rq_active` where known, `weight`,
 * `health_flags` (`healthy`, or `/failed_outlier_check` when ejected), `region`, `zone`,
 * `sub_zone` (envoy source/server/admin/clusters_handler.cc).
 */
export function clustersText(statuses: readonly ClusterStatus[]): string {
  const lines: string[] = [];
  for (const c of statuses) {
    const cb = c.circuit_breakers;
    lines.push(`${c.name}::default_priority::max_connections::${cb.max_connections}`);
    lines.push(`${c.name}::default_priority::max_pending_requests::${cb.max_pending_requests}`);
    lines.push(`${c.name}::default_priority::max_requests::${cb.max_requests}`);
    lines.push(`${c.name}::default_priority::max_retries::${cb.max_retries}`);
    lines.push(`${c.name}::added_via_api::true`);
    for (const h of c.host_statuses) {
      const a = h.address.socket_address;
      const prefix = `${c.name}::${a.address}:${a.port_value}`;
      for (const s of h.stats) lines.push(`${prefix}::${s.name}::${s.value}`);
      lines.push(`${prefix}::weight::${h.weight}`);
      lines.push(
        `${prefix}::health_flags::${h.health_status.failed_outlier_check ? '/failed_outlier_check' : 'healthy'}`,
      );
      lines.push(`${prefix}::region::${h.locality?.region ?? ''}`);
      lines.push(`${prefix}::zone::${h.locality?.zone ?? ''}`);
      lines.push(`${prefix}::sub_zone::${h.locality?.sub_zone ?? ''}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
