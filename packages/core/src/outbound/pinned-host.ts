import type { UpstreamCluster } from './upstream/types.js';

/**
 * A runtime cluster as one call sees it when the cluster, not a load balancer, chooses the
 * host from the request: Envoy's ORIGINAL_DST cluster takes the address the app dialled,
 * the dynamic forward proxy the address of the request's host name (both
 * `lb_policy: CLUSTER_PROVIDED`; envoy original_dst_cluster.cc and
 * clusters/dynamic_forward_proxy/cluster.cc chooseHost look the host up and return it,
 * healthy or not). `pick` returns the host whose id is `id`, or null (`503 UH`); the
 * connection pool, retry limits and outlier detection stay the whole cluster's.
 */
export function pinnedHost(cluster: UpstreamCluster, id: string): UpstreamCluster {
  const pinned: UpstreamCluster = {
    key: cluster.key,
    hosts: () => cluster.hosts(),
    pick: () => cluster.hosts().find((h) => h.id === id) ?? null,
    admit: (signal) => cluster.admit(signal),
    admitRetry: () => cluster.admitRetry(),
    begin: (host) => cluster.begin(host),
    record: (host, outcome) => cluster.record(host, outcome),
  };
  const tryAdmit = cluster.tryAdmit?.bind(cluster);
  const admitStream = cluster.admitStream?.bind(cluster);
  return {
    ...pinned,
    ...(tryAdmit === undefined ? {} : { tryAdmit }),
    ...(admitStream === undefined ? {} : { admitStream }),
  };
}
