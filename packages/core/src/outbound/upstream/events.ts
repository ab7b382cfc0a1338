/** Why outlier detection ejected (or wanted to eject) a host: Envoy's `OutlierEjectionType`. */
export type EjectionCause =
  'consecutive-5xx' | 'consecutive-gateway-failure' | 'consecutive-local-origin-failure';

/**
 * What the upstream runtime reports as it happens, for telemetry and the admin API: Envoy's
 * outlier event log (`EJECT`/`UNEJECT`, `ejections_overflow`) and circuit-breaker overflow
 * counters (`upstream_rq_pending_overflow`, `upstream_rq_retry_overflow`).
 */
export type UpstreamEvent =
  | {
      readonly type: 'eject';
      readonly cluster: string;
      readonly host: string;
      readonly cause: EjectionCause;
      /** `min(baseEjectionTime × times ejected, maxEjectionTime)`. */
      readonly durationMs: number;
      /** Times this host has been ejected so far, this one included. */
      readonly ejections: number;
      readonly at: number;
    }
  /** The threshold was reached but `maxEjectionPercent` forbade the ejection. */
  | {
      readonly type: 'eject-overflow';
      readonly cluster: string;
      readonly host: string;
      readonly cause: EjectionCause;
      readonly at: number;
    }
  | { readonly type: 'uneject'; readonly cluster: string; readonly host: string; readonly at: number }
  | {
      readonly type: 'overflow';
      readonly cluster: string;
      readonly reason: 'pending-overflow' | 'max-requests' | 'retry';
    };

export type UpstreamEventSink = (e: UpstreamEvent) => void;

/** Calls the sink; a listener that throws never breaks a request (STYLE.md practice 9). */
export function emitSafely(sink: UpstreamEventSink | undefined, e: UpstreamEvent): void {
  if (sink === undefined) return;
  try {
    sink(e);
  } catch {
    // Telemetry never throws into the application.
  }
}
