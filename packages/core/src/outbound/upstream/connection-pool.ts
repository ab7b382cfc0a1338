import type { ClusterPolicy } from '../../compile/traffic-policy.js';
import type { Admission, PoolTicket } from './types.js';

export type OverflowReason = 'pending-overflow' | 'max-requests' | 'retry';

interface Waiter {
  readonly resolve: (a: Admission) => void;
  readonly signal: AbortSignal | null;
  onAbort: (() => void) | null;
}

const PENDING_OVERFLOW: Admission = Object.freeze({ ok: false, reason: 'pending-overflow' });
const MAX_REQUESTS: Admission = Object.freeze({ ok: false, reason: 'max-requests' });
const NOOP = (): void => {};
const RETRY_DENIED = Object.freeze({ ok: false, release: NOOP });

/** An admission that is its own ticket: one object per admitted request. */
class Ticket implements PoolTicket {
  readonly ok = true;
  #pool: ConnectionPool | null;
  readonly #stream: boolean;
  constructor(pool: ConnectionPool, stream: boolean) {
    this.#pool = pool;
    this.#stream = stream;
  }
  get ticket(): PoolTicket {
    return this;
  }
  release(): void {
    const pool = this.#pool;
    this.#pool = null;
    if (this.#stream) pool?.releaseStream();
    else pool?.releaseRequest();
  }
}

/**
 * Envoy's circuit-breaker resources for one cluster, per client (envoy
 * source/common/upstream/resource_manager_impl.h, conn_pool_base.cc), with HTTP/1
 * semantics (spec/traffic.md §2 connectionPool):
 * - a request needs a connection: at most `tcp.maxConnections` requests in flight;
 * - without one it waits, FIFO, if fewer than `http.http1MaxPendingRequests` wait already,
 *   else fails at once (`pending-overflow`);
 * - when it gets a connection, `http.http2MaxRequests` caps active requests overall
 *   (`max-requests`; Envoy counts both in `upstream_rq_pending_overflow`);
 * - retries: `http.maxRetries` concurrent retries, or `retryBudget` when set, which
 *   replaces it (`upstream_rq_retry_overflow`).
 * An HTTP/2 stream (a gRPC call on a shared connection, `admitStream`) holds no connection
 * of its own: only `http2MaxRequests`, shared with HTTP/1 requests, bounds it.
 * Limits are read at each decision, so a plan reload applies to the next request.
 */
export class ConnectionPool {
  #policy: ClusterPolicy;
  #active = 0;
  /** HTTP/2 streams in flight (they count against `http2MaxRequests`, not `maxConnections`). */
  #streams = 0;
  #retries = 0;
  readonly #queue: Waiter[] = [];
  readonly #onOverflow: (reason: OverflowReason) => void;

  constructor(policy: ClusterPolicy, onOverflow: (reason: OverflowReason) => void) {
    this.#policy = policy;
    this.#onOverflow = onOverflow;
  }

  setPolicy(policy: ClusterPolicy): void {
    this.#policy = policy;
    this.#drain();
  }

  get active(): number {
    return this.#active;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** The admission or overflow when it is known at once; null when the request must queue. */
  tryAdmit(): Admission | null {
    const { tcp, http } = this.#policy.connectionPool;
    if (this.#active < tcp.maxConnections && this.#queue.length === 0) return this.#attach();
    if (this.#queue.length >= http.http1MaxPendingRequests) {
      this.#onOverflow('pending-overflow');
      return PENDING_OVERFLOW;
    }
    return null;
  }

  admit(signal: AbortSignal | null): Promise<Admission> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const now = this.tryAdmit();
    if (now !== null) return Promise.resolve(now);
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = { resolve, signal, onAbort: null };
      if (signal !== null) {
        waiter.onAbort = () => {
          // A queued request whose timeout fired leaves without counting as overflow.
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
    });
  }

  /**
   * Admission for a new HTTP/2 stream: Envoy's pool checks the cluster's `max_requests`
   * (`http2MaxRequests`) and overflows at once (envoy source/common/conn_pool/conn_pool_base.cc
   * newStreamImpl); a stream never waits for a connection of its own.
   */
  admitStream(): Admission {
    if (this.#active + this.#streams >= this.#policy.connectionPool.http.http2MaxRequests) {
      this.#onOverflow('max-requests');
      return MAX_REQUESTS;
    }
    this.#streams++;
    return new Ticket(this, true);
  }

  /** Called by a ticket, once. */
  releaseRequest(): void {
    this.#active--;
    this.#drain();
  }

  /** Called by a stream's ticket, once. */
  releaseStream(): void {
    this.#streams--;
  }

  admitRetry(): { ok: boolean; release(): void } {
    if (this.#retries >= this.#maxRetries()) {
      this.#onOverflow('retry');
      return RETRY_DENIED;
    }
    this.#retries++;
    let done = false;
    return {
      ok: true,
      release: () => {
        if (done) return;
        done = true;
        this.#retries--;
      },
    };
  }

  #maxRetries(): number {
    const budget = this.#policy.retryBudget;
    if (budget === null) return this.#policy.connectionPool.http.maxRetries;
    // Envoy RetryBudgetImpl::max: percent of (active + pending) requests, at least the floor.
    const active = this.#active + this.#streams + this.#queue.length;
    return Math.max(Math.floor((budget.percent / 100) * active), budget.minRetryConcurrency);
  }

  /** A connection is free: the request gets it unless active requests are at the cap. */
  #attach(): Admission {
    if (this.#active + this.#streams >= this.#policy.connectionPool.http.http2MaxRequests) {
      this.#onOverflow('max-requests');
      return MAX_REQUESTS;
    }
    this.#active++;
    return new Ticket(this, false);
  }

  #drain(): void {
    const max = this.#policy.connectionPool.tcp.maxConnections;
    while (this.#active < max) {
      const w = this.#queue.shift();
      if (w === undefined) return;
      if (w.onAbort !== null) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(this.#attach());
    }
  }
}
