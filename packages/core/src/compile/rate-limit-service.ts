import type { PatchedCluster } from '../config/schema/envoy-filter-cluster.js';
import type { RateLimitServiceRef } from '../config/schema/rate-limit-filter.js';
import type { RateLimitServicePlan } from './inbound-types.js';

const OUTBOUND_CLUSTER = /^outbound\|(\d+)\|[^|]*\|(.+)$/;

/**
 * The cluster a global rate limit filter's `envoy_grpc.cluster_name` names: one an
 * EnvoyFilter CLUSTER patch adds (the later one of a name wins, as Envoy's cluster manager
 * keeps the last), else an Istio outbound cluster, else none. `:authority` is `authority`
 * or, as Envoy's EnvoyGrpc client sets it, the cluster name (grpc_service.proto).
 */
export function rateLimitService(
  ref: RateLimitServiceRef,
  clusters: readonly PatchedCluster[],
): RateLimitServicePlan {
  const authority = ref.authority ?? ref.clusterName;
  const added = clusters.findLast((c) => c.name === ref.clusterName);
  if (added !== undefined)
    return { kind: 'static', clusterName: added.name, endpoints: added.endpoints, authority };
  const m = OUTBOUND_CLUSTER.exec(ref.clusterName);
  if (m !== null) return { kind: 'mesh', host: m[2] ?? '', port: Number(m[1]), authority };
  return { kind: 'unknown', clusterName: ref.clusterName };
}
