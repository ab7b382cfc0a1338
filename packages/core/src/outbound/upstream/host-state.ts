import type CircuitBreaker from 'opossum';
import type { Endpoint } from '../../compile/plan-types.js';
import type { EjectionCause } from './events.js';
import type { SlowStart } from './slow-start.js';
import type { UpstreamHost } from './types.js';

/** `host:port`, an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `address:port` (IPv6 bracketed), unique within a cluster. */
export function hostId(e: Endpoint): string {
  return hostPort(e.address, e.port);
}

/**
 * The runtime state of one endpoint: the request counter LEAST_REQUEST reads, Envoy's
 * `DetectorHostMonitorImpl` fields for outlier detection, and its slow-start start. Internal to the upstream folder;
 * callers see it as an `UpstreamHost`.
 */
export class HostState implements UpstreamHost {
  readonly id: string;
  endpoint: Endpoint;
  active = 0;
  /** Consecutive 5xx (Envoy `consecutive_5xx_`). */
  c5xx = 0;
  /** Consecutive 502/503/504 (Envoy `consecutive_gateway_failure_`). */
  cGateway = 0;
  /** Consecutive local-origin failures, split mode only. */
  cLocal = 0;
  /** Ejection backoff multiplier (Envoy `ejection_time_backoff_`). */
  backoff = 0;
  ejections = 0;
  ejectedAt = 0;
  lastUnejectedAt: number | null = null;
  /** Created on first ejection; holds the ejected/returned state and its events. */
  breaker: CircuitBreaker | null = null;
  /** Set just before `breaker.open()` so the `open` listener knows the ejection's cause. */
  pendingCause: EjectionCause | null = null;
  /** The cluster's slow start (DestinationRule `warmup`), null without one. */
  slowStart: SlowStart | null = null;
  /** When this host started warming (Envoy `lastHcPassTime`); read only with `slowStart`. */
  warmSince = 0;

  constructor(endpoint: Endpoint) {
    this.id = hostId(endpoint);
    this.endpoint = endpoint;
  }

  /** Envoy requires weights ≥ 1; Istio writes 1 for an unset or zero weight. */
  get weight(): number {
    return this.endpoint.weight >= 1 ? this.endpoint.weight : 1;
  }

  get ejected(): boolean {
    // Half-open never lasts: the owner re-opens it (see host-breaker.ts).
    return this.breaker !== null && !this.breaker.closed;
  }

  resetCounters(): void {
    this.c5xx = 0;
    this.cGateway = 0;
    this.cLocal = 0;
  }
}
