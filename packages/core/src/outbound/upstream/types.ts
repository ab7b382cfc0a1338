import type { Cluster, Endpoint } from '../../compile/plan-types.js';
import type { HashKey } from './hash.js';

/** One endpoint of one cluster, with its runtime state. */
export interface UpstreamHost {
  /** `address:port`, unique within the cluster. */
  readonly id: string;
  readonly endpoint: Endpoint;
  /** Requests in flight on this host (LEAST_REQUEST reads it). */
  readonly active: number;
  /** Ejected by outlier detection right now. */
  readonly ejected: boolean;
}

/** What the load balancer may use to pick a host. */
export interface PickContext {
  /** Hosts already tried by this request (previous-hosts retry predicate). */
  readonly exclude: ReadonlySet<string>;
  /**
   * The consistent-hash key (header/cookie/query value, source IP; every value of a header
   * sent several times), when the policy hashes.
   */
  readonly hashKey: HashKey;
}

/** The result of one attempt, as outlier detection classifies it (spec/traffic.md §2 algorithm). */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number }
  /** Local-origin failures: connect failure/timeout, reset, per-try timeout. */
  | {
      readonly kind: 'local-failure';
      readonly failure: 'connect-failure' | 'connect-timeout' | 'reset' | 'timeout';
    };

/** A request admitted by the connection pool; `release` exactly once when it ends. */
export interface PoolTicket {
  release(): void;
}

export type Admission =
  | { readonly ok: true; readonly ticket: PoolTicket }
  /** Overflow: answer `503 UO` with `x-envoy-overloaded: true`. Never counts as an upstream error. */
  | { readonly ok: false; readonly reason: 'pending-overflow' | 'max-requests' };

/**
 * The runtime side of one plan cluster (`outbound|port|subset|host`): its hosts, load
 * balancer, connection-pool limits and outlier detection. Limits are per client per
 * cluster, as Envoy's (spec/traffic.md §2 connectionPool).
 */
export interface UpstreamCluster {
  readonly key: string;
  readonly hosts: () => readonly UpstreamHost[];
  /** A healthy host (skipping ejected ones unless in panic), or null: answer `503 UH`. */
  pick(ctx: PickContext): UpstreamHost | null;
  /**
   * Wait for a slot under `maxConnections`/`http1MaxPendingRequests`/`http2MaxRequests`.
   * Resolves immediately with overflow when the pending queue is full. `signal` removes a
   * queued request (its timeout fired) without counting overflow.
   */
  admit(signal: AbortSignal | null): Promise<Admission>;
  /**
   * The synchronous fast path of `admit`: the admission or the overflow when the pool can
   * answer at once, null when the request would have to queue (then call `admit`).
   * Optional: without it, every try goes through `admit`.
   */
  tryAdmit?(): Admission | null;
  /**
   * Admission for an HTTP/2 stream (a gRPC call multiplexed on a shared connection): only
   * `http2MaxRequests` bounds it, and it never queues. Optional: without it, streams are
   * admitted as HTTP/1 requests.
   */
  admitStream?(): Admission;
  /** `maxRetries` (concurrent retries) and `retryBudget`; false = skip the retry, flag `UO`. */
  admitRetry(): { ok: boolean; release(): void };
  /** Mark a host busy for LEAST_REQUEST; returns the function that marks it idle again. */
  begin(host: UpstreamHost): () => void;
  /** Feed outlier detection. */
  record(host: UpstreamHost, outcome: AttemptOutcome): void;
}

/** Statistics a cluster keeps, for `/clusters`, metrics and tests. */
export interface UpstreamClusterStats {
  readonly pendingOverflow: number;
  readonly maxRequestsOverflow: number;
  readonly retryOverflow: number;
  readonly ejectionsTotal: number;
  readonly ejectedNow: number;
}

/**
 * Holds one `UpstreamCluster` per plan cluster and keeps its state (ejections,
 * counters) across plan reloads while the cluster and its endpoints stay the same.
 */
export interface ClusterManager {
  /** The runtime cluster for a plan cluster; `endpoints` overrides the plan's (DNS results). */
  get(cluster: Cluster, endpoints?: readonly Endpoint[]): UpstreamCluster;
  stats(key: string): UpstreamClusterStats | null;
  /** Stop sweep timers. */
  close(): void;
}
