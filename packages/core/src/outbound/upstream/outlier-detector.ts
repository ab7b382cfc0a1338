import type { OutlierDetectionPolicy } from '../../compile/traffic-policy.js';
import type { Clock } from '../../runtime/clock.js';
import { emitSafely, type EjectionCause, type UpstreamEventSink } from './events.js';
import { createHostBreaker } from './host-breaker.js';
import { outlierStatus } from './outlier-error-codes.js';
import type { HostState } from './host-state.js';
import type { AttemptOutcome } from './types.js';

export interface DetectorDeps {
  readonly cluster: string;
  readonly clock: Clock;
  readonly sink: UpstreamEventSink | undefined;
  /** Every host of the cluster (ejected or not). */
  readonly hosts: () => readonly HostState[];
  /** A host was ejected or returned: the eligible set changed. */
  readonly changed: () => void;
}

/**
 * `trafficPolicy.outlierDetection` with Envoy's consecutive-error algorithm (envoy
 * source/common/upstream/outlier_detection_impl.cc; spec/traffic.md §2 steps 1–5).
 * Success-rate ejection is off, as Istio forces it. One sweep timer per cluster, from the
 * injected clock, armed while the cluster has outlier detection.
 */
export class OutlierDetector {
  #policy: OutlierDetectionPolicy;
  readonly #deps: DetectorDeps;
  #timer: unknown = null;
  #closed = false;
  #ejectedNow = 0;
  #ejectionsTotal = 0;

  constructor(policy: OutlierDetectionPolicy, deps: DetectorDeps) {
    this.#policy = policy;
    this.#deps = deps;
    this.#arm();
  }

  get ejectedNow(): number {
    return this.#ejectedNow;
  }

  get ejectionsTotal(): number {
    return this.#ejectionsTotal;
  }

  /** The new interval applies from the next sweep. */
  setPolicy(policy: OutlierDetectionPolicy): void {
    this.#policy = policy;
  }

  record(host: HostState, outcome: AttemptOutcome): void {
    const split = this.#policy.splitExternalLocalOriginErrors;
    if (outcome.kind === 'response') {
      // A response means the connection worked: a local-origin success in split mode.
      if (split) host.cLocal = 0;
      this.#putHttpCode(host, outlierStatus(outcome.status, this.#policy.httpErrorCodes));
      return;
    }
    if (split) {
      const threshold = this.#policy.consecutiveLocalOriginFailures;
      if (++host.cLocal === threshold) this.#onConsecutive(host, 'consecutive-local-origin-failure');
      return;
    }
    // Without split mode Envoy maps local results to codes (resultToHttpCode): timeouts
    // are 504, connect failures and resets 503.
    const timedOut = outcome.failure === 'timeout' || outcome.failure === 'connect-timeout';
    this.#putHttpCode(host, timedOut ? 504 : 503);
  }

  /** A host left the cluster: its ejection no longer counts. */
  hostRemoved(host: HostState): void {
    if (host.ejected) this.#ejectedNow--;
    host.breaker?.shutdown();
    host.breaker = null;
  }

  /**
   * Outlier detection was removed from the policy: every host returns (with `uneject`
   * events) and its outlier state starts over.
   */
  disable(): void {
    this.close();
    for (const h of this.#deps.hosts()) {
      h.breaker?.close();
      h.breaker?.shutdown();
      h.breaker = null;
      h.resetCounters();
      h.backoff = 0;
      h.lastUnejectedAt = null;
    }
    this.#ejectedNow = 0;
  }

  /** Stops the sweep timer and releases the breakers' listeners and timers. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Release every breaker (manager close). */
  shutdown(): void {
    this.close();
    for (const h of this.#deps.hosts()) {
      h.breaker?.shutdown();
      h.breaker = null;
    }
  }

  #putHttpCode(host: HostState, code: number): void {
    if (code < 500 || code > 599) {
      host.c5xx = 0;
      host.cGateway = 0;
      return;
    }
    if (code === 502 || code === 503 || code === 504) {
      if (++host.cGateway === this.#policy.consecutiveGatewayErrors) {
        this.#onConsecutive(host, 'consecutive-gateway-failure');
      }
    } else {
      host.cGateway = 0;
    }
    if (++host.c5xx === this.#policy.consecutive5xxErrors) this.#onConsecutive(host, 'consecutive-5xx');
  }

  #onConsecutive(host: HostState, cause: EjectionCause): void {
    // Envoy onConsecutiveErrorWorker: an ejected host is left alone (its counters reset
    // when it returns); otherwise try to eject and reset the counter either way.
    if (host.ejected) return;
    this.#eject(host, cause);
    if (cause === 'consecutive-5xx') host.c5xx = 0;
    else if (cause === 'consecutive-gateway-failure') host.cGateway = 0;
    else host.cLocal = 0;
  }

  #eject(host: HostState, cause: EjectionCause): void {
    const p = this.#policy;
    const total = this.#deps.hosts().length;
    const now = this.#deps.clock.now();
    // No "always eject one host" exception (envoy#27909; Istio never sets
    // always_eject_one_host): the default 10% never ejects in clusters under 10 hosts.
    if ((100 * (this.#ejectedNow + 1)) / total > p.maxEjectionPercent) {
      const sink = this.#deps.sink;
      if (sink !== undefined) {
        emitSafely(sink, {
          type: 'eject-overflow',
          cluster: this.#deps.cluster,
          host: host.id,
          cause,
          at: now,
        });
      }
      return;
    }
    if (host.backoff * p.baseEjectionTimeMs < p.maxEjectionTimeMs + p.baseEjectionTimeMs) host.backoff++;
    host.ejections++;
    host.ejectedAt = now;
    this.#ejectedNow++;
    this.#ejectionsTotal++;
    host.pendingCause = cause;
    (host.breaker ??= this.#breakerFor(host)).open();
    this.#deps.changed();
  }

  #uneject(host: HostState, now: number): void {
    this.#ejectedNow--;
    // Counters restart so that a few new errors cannot re-eject a host whose other
    // counter was close to its threshold (Envoy checkHostForUneject).
    host.resetCounters();
    host.lastUnejectedAt = now;
    host.breaker?.close();
    this.#deps.changed();
  }

  #sweep(): void {
    const p = this.#policy;
    const now = this.#deps.clock.now();
    for (const h of this.#deps.hosts()) {
      if (!h.ejected) {
        if (h.backoff > 0 && h.lastUnejectedAt !== null && now - h.lastUnejectedAt >= p.intervalMs) {
          h.backoff--;
        }
        continue;
      }
      const ejectedFor = Math.min(p.baseEjectionTimeMs * h.backoff, p.maxEjectionTimeMs);
      if (now - h.ejectedAt >= ejectedFor) this.#uneject(h, now);
    }
  }

  #arm(): void {
    if (this.#closed) return;
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = null;
      this.#sweep();
      this.#arm();
    }, this.#policy.intervalMs);
  }

  #breakerFor(host: HostState) {
    const breaker = createHostBreaker(`${this.#deps.cluster}/${host.id}`);
    const { cluster, clock, sink } = this.#deps;
    breaker.on('open', () => {
      const cause = host.pendingCause;
      host.pendingCause = null;
      if (cause === null || sink === undefined) return;
      const p = this.#policy;
      emitSafely(sink, {
        type: 'eject',
        cluster,
        host: host.id,
        cause,
        durationMs: Math.min(p.baseEjectionTimeMs * host.backoff, p.maxEjectionTimeMs),
        ejections: host.ejections,
        at: clock.now(),
      });
    });
    breaker.on('close', () => {
      if (sink !== undefined) emitSafely(sink, { type: 'uneject', cluster, host: host.id, at: clock.now() });
    });
    // opossum's reset timer is pushed out of reach (host-breaker.ts); should it fire, the
    // host stays ejected until a sweep returns it.
    breaker.on('halfOpen', () => breaker.open());
    return breaker;
  }
}
