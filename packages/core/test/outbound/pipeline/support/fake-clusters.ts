import type { Cluster, Endpoint } from '../../../../src/compile/plan-types.js';
import type { HashKey } from '../../../../src/outbound/upstream/hash.js';
import type {
  Admission,
  AttemptOutcome,
  ClusterManager,
  PickContext,
  UpstreamCluster,
  UpstreamHost,
} from '../../../../src/outbound/upstream/types.js';

/** A round-robin ClusterManager with Envoy-shaped limits, enough to drive the pipeline in tests. */
export interface FakeClusters extends ClusterManager {
  /** Every `record` call: cluster key, host id, outcome. */
  readonly records: { cluster: string; host: string; outcome: AttemptOutcome }[];
  /** Host ids treated as ejected. */
  readonly ejected: Set<string>;
  /** Concurrent requests admitted per cluster before `max-requests` overflow (default unlimited). */
  maxRequests: number;
  /** Retries allowed at once per cluster (default unlimited). */
  maxRetries: number;
  readonly active: Map<string, number>;
  readonly picks: { cluster: string; exclude: string[]; hashKey: HashKey }[];
}

export function createFakeClusters(): FakeClusters {
  const made = new Map<string, { eps: readonly Endpoint[]; c: UpstreamCluster }>();
  const self: FakeClusters = {
    records: [],
    ejected: new Set(),
    maxRequests: Infinity,
    maxRetries: Infinity,
    active: new Map(),
    picks: [],
    get(cluster: Cluster, endpoints?: readonly Endpoint[]): UpstreamCluster {
      const eps = endpoints ?? cluster.endpoints;
      const prev = made.get(cluster.key);
      if (prev !== undefined && prev.eps === eps) return prev.c;
      const hosts: UpstreamHost[] = eps.map((e) => ({
        id: `${e.address}:${e.port}`,
        endpoint: e,
        active: 0,
        ejected: false,
      }));
      let rr = 0;
      let retries = 0;
      const c: UpstreamCluster = {
        key: cluster.key,
        hosts: () => hosts,
        pick(ctx: PickContext) {
          self.picks.push({ cluster: cluster.key, exclude: [...ctx.exclude], hashKey: ctx.hashKey });
          const ok = hosts.filter((h) => !self.ejected.has(h.id) && !ctx.exclude.has(h.id));
          if (ok.length === 0) return null;
          return ok[rr++ % ok.length] ?? null;
        },
        admit(): Promise<Admission> {
          const n = self.active.get(cluster.key) ?? 0;
          if (n >= self.maxRequests) return Promise.resolve({ ok: false, reason: 'max-requests' });
          self.active.set(cluster.key, n + 1);
          let done = false;
          return Promise.resolve({
            ok: true,
            ticket: {
              release: () => {
                if (done) return;
                done = true;
                self.active.set(cluster.key, (self.active.get(cluster.key) ?? 1) - 1);
              },
            },
          });
        },
        admitRetry() {
          if (retries >= self.maxRetries) return { ok: false, release: () => {} };
          retries++;
          let done = false;
          return {
            ok: true,
            release: () => {
              if (!done) retries--;
              done = true;
            },
          };
        },
        begin: () => () => {},
        record(host, outcome) {
          self.records.push({ cluster: cluster.key, host: host.id, outcome });
        },
      };
      made.set(cluster.key, { eps, c });
      return c;
    },
    stats: () => null,
    close: () => {},
  };
  return self;
}
