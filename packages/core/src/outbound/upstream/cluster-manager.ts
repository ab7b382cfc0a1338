import type { Cluster, Endpoint } from '../../compile/plan-types.js';
import type { Clock } from '../../runtime/clock.js';
import type { Random } from '../../runtime/random.js';
import type { UpstreamEventSink } from './events.js';
import type { ClusterManager, UpstreamCluster, UpstreamClusterStats } from './types.js';
import { RuntimeCluster } from './upstream-cluster.js';

export interface ClusterManagerOptions {
  /** Sweeps and ejection times run on it (`createManualClock()` in tests). */
  readonly clock: Clock;
  /** Every load-balancing draw comes from it (`seededRandom()` in tests). */
  readonly random: Random;
  /** Ejections, returns and overflows as they happen; a throwing listener is ignored. */
  readonly onEvent?: UpstreamEventSink;
}

/**
 * The upstream runtime for one client: one `UpstreamCluster` per plan cluster key, holding
 * load balancing (`trafficPolicy.loadBalancer`), connection-pool limits
 * (`trafficPolicy.connectionPool`, `retryBudget`) and outlier detection
 * (`trafficPolicy.outlierDetection`). The same object is returned for a key across plan
 * reloads; hosts that remain keep their counters and ejections, new ones start fresh,
 * removed ones are dropped.
 */
export function createClusterManager(options: ClusterManagerOptions): ClusterManager {
  const clusters = new Map<string, RuntimeCluster>();
  const deps = { clock: options.clock, random: options.random, sink: options.onEvent };
  let closed = false;
  return {
    get(cluster: Cluster, endpoints?: readonly Endpoint[]): UpstreamCluster {
      const eps = endpoints ?? cluster.endpoints;
      const existing = clusters.get(cluster.key);
      if (existing !== undefined) {
        existing.update(cluster, eps);
        return existing;
      }
      const created = new RuntimeCluster(cluster, eps, deps);
      clusters.set(cluster.key, created);
      // A closed manager still answers, but arms no new sweep timer.
      if (closed) created.close();
      return created;
    },
    stats(key: string): UpstreamClusterStats | null {
      return clusters.get(key)?.stats() ?? null;
    },
    close(): void {
      closed = true;
      for (const c of clusters.values()) c.close();
    },
  };
}
