import type { Clock } from '../../runtime/clock.js';
import type { MeshMetrics } from './istio-metrics.js';
import type { MetricEvent } from './metric-event.js';

/**
 * The stats filter's default `tcp_reporting_duration` (istio/proxy istio_stats.cc:
 * `PROTOBUF_GET_MS_OR_DEFAULT(proto_config, tcp_reporting_duration, 5000)`); Telemetry
 * `metrics[].reportingInterval` overrides it.
 */
export const DEFAULT_TCP_REPORT_MS = 5_000;

/**
 * The metric event of a TCP connection, fixed at its first report (istio_stats.cc evaluates
 * TCP tags once): no request, so protocol `tcp`, no status, no durations or request sizes.
 */
export function tcpEvent(
  fields: Pick<
    MetricEvent,
    'reporter' | 'source' | 'destination' | 'destinationService' | 'port' | 'flags' | 'mtls'
  >,
): MetricEvent {
  return {
    ...fields,
    protocol: 'tcp',
    status: 0,
    grpcStatus: null,
    durationMs: 0,
    requestBytes: 0,
    responseBytes: 0,
  };
}

/** Bytes so far each way, as the downstream sees them (Envoy's downstream bytes meter). */
export type TcpMeter = () => { readonly received: number; readonly sent: number };

/**
 * The `istio_tcp_*` reports of one connection, as Istio's stats filter makes them
 * (istio_stats.cc `reportHelper`): the labels are fixed at the first report, which also
 * counts the connection opened; a report every reporting interval while it is open adds
 * the bytes since the previous one; the last, at close, counts it closed.
 */
export class TcpReports {
  readonly #metrics: () => MeshMetrics;
  readonly #clock: Clock;
  readonly #eventOf: () => MetricEvent;
  #meter: TcpMeter = () => ({ received: 0, sent: 0 });
  #event: MetricEvent | null = null;
  #reportedReceived = 0;
  #reportedSent = 0;
  #timer: unknown = null;
  #closed = false;

  /** `metrics` is read at each report (a reload may replace the telemetry's metrics). */
  constructor(metrics: () => MeshMetrics, clock: Clock, eventOf: () => MetricEvent) {
    this.#metrics = metrics;
    this.#clock = clock;
    this.#eventOf = eventOf;
  }

  /** Where the connection's bytes are read from when it reports. */
  meter(meter: TcpMeter): void {
    this.#meter = meter;
  }

  /** The labels are known: report every interval from now until the connection closes. */
  start(): void {
    if (this.#closed || this.#timer !== null) return;
    const ms = this.#metrics().reportingIntervalMs ?? DEFAULT_TCP_REPORT_MS;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      if (this.#closed) return;
      this.#report(false);
      this.start();
    }, ms);
  }

  /**
   * The connection closed: its last report (`metered`: a stats filter ran for it; `opened`
   * false: counted closed only, as a connection the BlackHoleCluster took). Once.
   */
  close(metered: boolean, opened = true): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (metered) this.#report(true, opened);
  }

  #report(closing: boolean, countOpened = true): void {
    const metrics = this.#metrics();
    if (!metrics.enabled) return;
    const opened = this.#event === null && countOpened;
    const event = (this.#event ??= this.#eventOf());
    const { received, sent } = this.#meter();
    metrics.recordTcp(event, {
      opened,
      closed: closing,
      sent: sent - this.#reportedSent,
      received: received - this.#reportedReceived,
    });
    this.#reportedSent = sent;
    this.#reportedReceived = received;
  }
}
