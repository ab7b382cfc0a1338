import { Registry } from 'prom-client';
import type { MeshConfig } from '../../config/mesh-config.js';
import type { ConfigSnapshot } from '../../config/snapshot.js';
import type { WorkloadIdentity } from '../../compile/workload.js';
import { applicableTelemetries } from '../config/telemetry-scope.js';
import {
  HTTP_METRICS,
  resolveMetricsConfig,
  STATS_METRIC_NAMES,
  TCP_METRICS,
  type HttpMetric,
  type MetricMode,
  type ResolvedMetricsConfig,
  type TcpMetric,
} from '../config/metrics-config.js';
import { peerFromWorkload, type PeerLabels } from '../peer-labels.js';
import { ENVOY_DEFAULT_BUCKETS } from './buckets.js';
import { istioTcpLabels, LabelCache, withoutHttpOnlyLabels, type LabelSet } from './istio-labels.js';
import { compileLabelPlan, type LabelPlan } from './label-plan.js';
import { labelKey, SeriesStore, type Series } from './series-store.js';
import type { MetricEvent } from './metric-event.js';
import type { TagExpressionProblem } from './tag-expression.js';

/**
 * Prometheus names of the Istio standard HTTP metrics (istio.io reference/config/metrics):
 * the stats filter's names under its `istio` prefix.
 */
export const ISTIO_METRIC_NAMES: Readonly<Record<HttpMetric, string>> = Object.freeze({
  REQUEST_COUNT: `istio_${STATS_METRIC_NAMES.REQUEST_COUNT}`,
  REQUEST_DURATION: `istio_${STATS_METRIC_NAMES.REQUEST_DURATION}`,
  REQUEST_SIZE: `istio_${STATS_METRIC_NAMES.REQUEST_SIZE}`,
  RESPONSE_SIZE: `istio_${STATS_METRIC_NAMES.RESPONSE_SIZE}`,
});

const HELP: Readonly<Record<HttpMetric | TcpMetric, string>> = {
  REQUEST_COUNT: 'Number of requests, as Istio reports them',
  REQUEST_DURATION: 'Request duration in milliseconds, as Istio reports it',
  REQUEST_SIZE: 'Request size in bytes, as Istio reports it',
  RESPONSE_SIZE: 'Response size in bytes, as Istio reports it',
  TCP_OPENED_CONNECTIONS: 'Number of TCP connections opened, as Istio reports them',
  TCP_CLOSED_CONNECTIONS: 'Number of TCP connections closed, as Istio reports them',
  TCP_SENT_BYTES: 'Bytes sent to the downstream over TCP connections, as Istio reports them',
  TCP_RECEIVED_BYTES: 'Bytes received from the downstream over TCP connections, as Istio reports them',
};

/**
 * One periodic or final report of a proxied TCP connection (Istio's stats filter on a
 * tcp_proxy chain): whether it is the connection's first report (`opened`) or its last
 * (`closed`), and the bytes since the previous report.
 */
export interface TcpReport {
  readonly opened: boolean;
  readonly closed: boolean;
  /** Bytes sent to the downstream since the last report (`istio_tcp_sent_bytes_total`). */
  readonly sent: number;
  /** Bytes received from the downstream since the last report (`istio_tcp_received_bytes_total`). */
  readonly received: number;
}

export interface MeshMetricsOptions {
  /** Where to register; a new Registry when absent. */
  readonly registry?: Registry;
  /** The local workload: the `source_*` labels on the client, `destination_*` on the server. */
  readonly workload: WorkloadIdentity;
  /** trustDomain, rootNamespace. */
  readonly meshConfig: Pick<MeshConfig, 'trustDomain' | 'rootNamespace'>;
  /** Telemetry resources are read from here for the workload (metrics overrides). */
  readonly snapshot?: Pick<ConfigSnapshot, 'resources' | 'meshConfig'>;
  /** Already-resolved overrides; wins over `snapshot`. */
  readonly telemetry?: ResolvedMetricsConfig;
  /** Istio cluster ID of the local workload (`source_cluster` / `destination_cluster`); default `Kubernetes`. */
  readonly cluster?: string;
  /** Histogram buckets (`sidecar.istio.io/statsHistogramBuckets`); Envoy's defaults otherwise. */
  readonly buckets?: readonly number[];
  /** Whether the local workload has a certificate; its principal is `unknown` without one. Default true. */
  readonly hasCertificate?: boolean;
  /**
   * The series of an earlier MeshMetrics on the same registry (a config reload): they are
   * kept and added to, as Envoy keeps its stats across a listener update.
   */
  readonly previous?: MeshMetrics;
}

/** Whether no series in the list was dropped by a reset. */
function allLive(series: readonly (Series | null)[]): boolean {
  for (let i = 0; i < series.length; i++) if (series[i]?.live === false) return false;
  return true;
}

/** Istio's standard HTTP metrics for one workload. */
export interface MeshMetrics {
  readonly registry: Registry;
  /** False when Telemetry disabled every metric or moved metrics off the prometheus provider. */
  readonly enabled: boolean;
  /**
   * The local workload's labels: pass as `source` (outbound) or `destination` (inbound).
   * Its principal is reported only for an event with `mtls` (istio-labels.ts).
   */
  readonly local: PeerLabels;
  /**
   * Whether a CLIENT tagOverrides expression reads the upstream timing
   * (`response.backend_latency`), which an outbound call then notes for its entry.
   */
  readonly readsTiming?: boolean;
  /** tagOverrides meshlet could not evaluate (the tag reads `unknown`). */
  readonly problems: readonly TagExpressionProblem[];
  /** Record one finished request. Never throws. */
  record(event: MetricEvent): void;
  /**
   * Record one report of a proxied TCP connection; `event.protocol` is `tcp` and its
   * status is 0. The `istio_tcp_*` counters, with the HTTP labels but `response_code`
   * and `grpc_response_status`. Never throws.
   */
  recordTcp(event: MetricEvent, report: TcpReport): void;
  /** Telemetry `reportingInterval` (ms) for open TCP connections, null when unset. */
  readonly reportingIntervalMs: number | null;
  /** The series stores by metric name, registered in `registry` (for `previous`). */
  readonly stores: ReadonlyMap<string, SeriesStore>;
}

interface Instrument<M extends HttpMetric | TcpMetric = HttpMetric> {
  readonly metric: M;
  readonly store: SeriesStore;
  readonly plan: Readonly<Record<MetricMode, LabelPlan | null>>;
}

function valueOf(metric: HttpMetric, e: MetricEvent): number {
  switch (metric) {
    case 'REQUEST_DURATION':
      // Whole milliseconds: istio_stats.cc records `FromChrono(duration) / Milliseconds(1)`,
      // an absl Duration / Duration, which truncates toward zero.
      return Math.trunc(e.durationMs);
    case 'REQUEST_SIZE':
      return e.requestBytes;
    case 'RESPONSE_SIZE':
      return e.responseBytes;
    default:
      return 1;
  }
}

function tcpValueOf(metric: TcpMetric, r: TcpReport): number {
  switch (metric) {
    case 'TCP_OPENED_CONNECTIONS':
      return r.opened ? 1 : 0;
    case 'TCP_CLOSED_CONNECTIONS':
      return r.closed ? 1 : 0;
    case 'TCP_SENT_BYTES':
      return r.sent;
    default:
      return r.received;
  }
}

/** A store per metric, taken over from an earlier MeshMetrics (a reload) or registered. */
function storeFor(
  stores: Map<string, SeriesStore>,
  registry: Registry,
  metric: HttpMetric | TcpMetric,
  buckets: number[],
): SeriesStore {
  const name = `istio_${STATS_METRIC_NAMES[metric]}`;
  let store = stores.get(name);
  if (store === undefined) {
    store = new SeriesStore({
      name,
      help: HELP[metric],
      type:
        metric === 'REQUEST_DURATION' || metric === 'REQUEST_SIZE' || metric === 'RESPONSE_SIZE'
          ? 'histogram'
          : 'counter',
      buckets,
    }).register(registry);
    stores.set(name, store);
  }
  return store;
}

/** The label plans of one metric in both modes; null for a mode that disabled it. */
function plansOf(
  config: ResolvedMetricsConfig,
  metric: HttpMetric | TcpMetric,
  problems: TagExpressionProblem[],
): Readonly<Record<MetricMode, LabelPlan | null>> {
  const plan: Record<MetricMode, LabelPlan | null> = { CLIENT: null, SERVER: null };
  for (const mode of ['CLIENT', 'SERVER'] as const) {
    const o = config.overrides[mode][metric];
    plan[mode] = o?.disabled === true ? null : compileLabelPlan(o, problems);
  }
  return Object.freeze(plan);
}

/**
 * Create `istio_requests_total`, `istio_request_duration_milliseconds`,
 * `istio_request_bytes` and `istio_response_bytes` with Istio's labels and Envoy's
 * buckets, applying the Telemetry API `metrics` overrides (disable, tagOverrides
 * UPSERT/REMOVE) that select this workload. Reporter `source` is the CLIENT mode,
 * `destination` the SERVER mode.
 */
export function createMeshMetrics(options: MeshMetricsOptions): MeshMetrics {
  const registry = options.registry ?? new Registry();
  const config =
    options.telemetry ??
    resolveMetricsConfig(
      options.snapshot === undefined ? [] : applicableTelemetries(options.snapshot, options.workload),
      options.snapshot?.meshConfig.defaultProviders.metrics,
      options.snapshot?.meshConfig,
    );
  const local = peerFromWorkload(options.workload, {
    trustDomain: options.meshConfig.trustDomain,
    ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
    hasPrincipal: options.hasCertificate !== false,
  });
  const problems: TagExpressionProblem[] = [];
  const stores = new Map(options.previous?.stores ?? []);
  if (!config.enabled) {
    return Object.freeze({
      registry,
      enabled: false,
      local,
      problems: Object.freeze(problems),
      record: () => undefined,
      recordTcp: () => undefined,
      reportingIntervalMs: null,
      stores,
    });
  }
  const buckets = [...(options.buckets ?? ENVOY_DEFAULT_BUCKETS)];
  const instruments: Instrument[] = [];
  for (const metric of HTTP_METRICS) {
    const plan = plansOf(config, metric, problems);
    if (plan.CLIENT === null && plan.SERVER === null) continue;
    instruments.push({ metric, store: storeFor(stores, registry, metric, buckets), plan });
  }
  const tcpInstruments: Instrument<TcpMetric>[] = [];
  for (const metric of TCP_METRICS) {
    const plan = plansOf(config, metric, problems);
    if (plan.CLIENT === null && plan.SERVER === null) continue;
    tcpInstruments.push({ metric, store: storeFor(stores, registry, metric, buckets), plan });
  }
  const readsTiming = HTTP_METRICS.some((m) =>
    (config.overrides.CLIENT[m]?.tags ?? []).some((t) => !t.remove && t.value.includes('backend_latency')),
  );
  const cache = new LabelCache();
  /**
   * The series each instrument added to for the last label set (null for an instrument
   * with dynamic tags, or disabled): a steady stream of requests between the same peers
   * with the same outcome adds to them directly, without a key lookup per instrument.
   */
  let last: {
    readonly base: LabelSet;
    readonly mode: MetricMode;
    readonly series: readonly (Series | null)[];
  } | null = null;
  const seriesOf = (base: LabelSet, mode: MetricMode): (Series | null)[] =>
    instruments.map((inst) => {
      const plan = inst.plan[mode];
      if (plan === null || plan.dynamic) return null;
      const labels = plan.applyStatic(base);
      return inst.store.series(labelKey(labels), labels);
    });
  const record = (event: MetricEvent): void => {
    try {
      const base = cache.labels(event);
      const mode: MetricMode = event.reporter === 'source' ? 'CLIENT' : 'SERVER';
      // A registry reset drops a store's series: kept ones are then found (made) again.
      if (last === null || last.base !== base || last.mode !== mode || !allLive(last.series))
        last = { base, mode, series: seriesOf(base, mode) };
      const series = last.series;
      for (let i = 0; i < instruments.length; i++) {
        const inst = instruments[i] as Instrument;
        const plan = inst.plan[mode];
        if (plan === null) continue;
        const value = valueOf(inst.metric, event);
        const s = series[i] ?? null;
        if (s !== null) inst.store.addTo(s, value);
        else {
          const statics = plan.applyStatic(base);
          const key = labelKey(statics) + plan.dynamicKey(event);
          if (!inst.store.add(key, null, value)) inst.store.add(key, plan.withDynamic(statics, event), value);
        }
      }
    } catch {
      // Telemetry never throws into the application (STYLE.md practice 9).
    }
  };
  /**
   * The TCP label sets of each instrument per HTTP label set (LabelCache's, interned per peer
   * pair and outcome) and mode, with their series once one was added to: connections
   * between the same peers add to them directly, without building and keying their labels
   * again. A series is made on its first add, so a counter nothing counted yet has none.
   * null for an instrument with dynamic tags or disabled.
   */
  interface TcpSeries {
    readonly labels: readonly (LabelSet | null)[];
    readonly series: (Series | null)[];
  }
  const tcpSeries = new WeakMap<LabelSet, Partial<Record<MetricMode, TcpSeries>>>();
  const tcpSeriesOf = (base: LabelSet, mode: MetricMode): TcpSeries => {
    let byMode = tcpSeries.get(base);
    if (byMode === undefined) {
      byMode = {};
      tcpSeries.set(base, byMode);
    }
    let entry = byMode[mode];
    if (entry === undefined) {
      const tcpBase = withoutHttpOnlyLabels(base);
      const labels = tcpInstruments.map((inst) => {
        const plan = inst.plan[mode];
        return plan === null || plan.dynamic ? null : plan.applyStatic(tcpBase);
      });
      entry = { labels, series: labels.map(() => null) };
      byMode[mode] = entry;
    }
    return entry;
  };
  const recordTcp = (event: MetricEvent, report: TcpReport): void => {
    try {
      const mode: MetricMode = event.reporter === 'source' ? 'CLIENT' : 'SERVER';
      const entry = tcpSeriesOf(cache.labels(event), mode);
      let base: LabelSet | null = null;
      for (let i = 0; i < tcpInstruments.length; i++) {
        const inst = tcpInstruments[i] as Instrument<TcpMetric>;
        const plan = inst.plan[mode];
        const value = tcpValueOf(inst.metric, report);
        // The byte counters are reported with every report, 0 included (istio/proxy
        // testdata/metric/tcp_client_sent_bytes_unknown.yaml.tmpl); a connection counter
        // only when the connection opened or closed.
        if (
          plan === null ||
          (value === 0 &&
            (inst.metric === 'TCP_OPENED_CONNECTIONS' || inst.metric === 'TCP_CLOSED_CONNECTIONS'))
        )
          continue;
        const labels = entry.labels[i] ?? null;
        if (labels !== null) {
          let s = entry.series[i] ?? null;
          // A registry reset drops a store's series: a dropped one is found (made) again.
          if (s === null || !s.live) s = entry.series[i] = inst.store.series(labelKey(labels), labels);
          inst.store.addTo(s, value);
        } else {
          base ??= istioTcpLabels(event);
          const made = plan.apply(base, event);
          inst.store.add(labelKey(made), made, value);
        }
      }
    } catch {
      // Telemetry never throws into the application.
    }
  };
  return Object.freeze({
    registry,
    enabled: true,
    local,
    problems: Object.freeze(problems),
    record,
    recordTcp,
    reportingIntervalMs: config.reportingIntervalMs,
    stores,
    readsTiming,
  });
}
