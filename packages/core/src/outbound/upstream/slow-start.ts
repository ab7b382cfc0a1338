import type { SlowStartPolicy } from '../../compile/traffic-policy.js';
import type { Clock } from '../../runtime/clock.js';
import type { HostState } from './host-state.js';

/**
 * Envoy slow start for one cluster's ROUND_ROBIN / LEAST_REQUEST balancer (envoy
 * load_balancing_policies/common/load_balancer_impl.cc `EdfLoadBalancerBase`):
 * - a host warms from the moment the balancer first sees it healthy (`lastHcPassTime`,
 *   set by `recalculateHostsInSlowStart` when Istio configures no active health check):
 *   hosts present when the balancer is built warm from then, later ones from when they
 *   join. Returning from an outlier ejection does not restart it;
 * - while younger than the window its weight is
 *   `weight × max(minWeight, timeFactor^(1/aggression))`, `timeFactor = max(1 ms, age) /
 *   window`, ages in whole milliseconds (`applySlowStartFactor`); ejected hosts (in panic)
 *   keep their weight;
 * - while any host may still be warming (`!noHostsAreInSlowStart()`: the latest start,
 *   or the balancer's creation, is within the window) a schedule is rebuilt as EDF even
 *   when all weights are equal.
 */
export class SlowStart {
  readonly policy: SlowStartPolicy;
  readonly #clock: Clock;
  readonly #minFactor: number;
  readonly #exponent: number;
  /** Envoy `latest_host_added_time_`, which starts at the balancer's creation. */
  #latest: number;

  /** A balancer built now over `hosts`: they all start warming. */
  constructor(policy: SlowStartPolicy, clock: Clock, hosts: readonly HostState[]) {
    this.policy = policy;
    this.#clock = clock;
    this.#minFactor = policy.minWeightPercent / 100;
    this.#exponent = 1 / policy.aggression;
    this.#latest = clock.now();
    for (const h of hosts) this.#enter(h, this.#latest);
  }

  /** A host joined the cluster. */
  hostAdded(h: HostState): void {
    this.#latest = this.#clock.now();
    this.#enter(h, this.#latest);
  }

  /** Whether a host may be warming now (schedules are then weighted). */
  active(): boolean {
    return Math.floor(this.#clock.now() - this.#latest) <= this.policy.windowMs;
  }

  /** `base` (the host's balancing weight) scaled for slow start. */
  weight(h: HostState, base: number): number {
    if (h.ejected) return base;
    const window = this.policy.windowMs;
    const age = Math.floor(this.#clock.now() - h.warmSince);
    if (age >= window) return base;
    const time = Math.max(1, age) / window;
    const factor = this.#exponent === 1 ? time : time ** this.#exponent;
    return base * Math.max(factor, this.#minFactor);
  }

  #enter(h: HostState, now: number): void {
    h.slowStart = this;
    h.warmSince = now;
  }
}

/** Whether two slow-start settings are the same (a changed one rebuilds the balancer). */
export function sameSlowStart(a: SlowStartPolicy | null, b: SlowStartPolicy | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return (
    a.windowMs === b.windowMs && a.aggression === b.aggression && a.minWeightPercent === b.minWeightPercent
  );
}

/**
 * Envoy `refresh`: skip EDF only when weights are equal and no host is in slow start;
 * also a single host needs no schedule.
 */
export function warming(hosts: readonly HostState[]): boolean {
  const warm = hosts[0]?.slowStart ?? null;
  return warm !== null && hosts.length > 1 && warm.active();
}

/**
 * `base` scaled by the hosts' slow start (round_robin_lb.h and least_request_lb.cc
 * `hostWeight`), or `base` itself without one: no cost per pick when nothing warms.
 */
export function withSlowStart(
  hosts: readonly HostState[],
  base: (h: HostState) => number,
): (h: HostState) => number {
  const warm = hosts[0]?.slowStart ?? null;
  return warm === null ? base : (h) => warm.weight(h, base(h));
}
