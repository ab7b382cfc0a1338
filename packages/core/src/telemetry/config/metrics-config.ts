import { findExtensionProvider } from '../../config/extension-providers.js';
import type { MeshConfig } from '../../config/mesh-config.js';
import {
  mergeMetrics,
  type MergedMetric,
  type MergedProvider,
  type MetricMode,
  type ResolvedTagOverride,
} from './merge-metrics.js';
import type { ScopedTelemetry } from './telemetry-scope.js';

/** The four HTTP metrics meshlet reports, by their Telemetry `IstioMetric` names. */
export type HttpMetric = 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE';
export const HTTP_METRICS: readonly HttpMetric[] = Object.freeze([
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
]);

/**
 * The four TCP metrics, reported for connections the gateway proxies as TCP (plain TCP
 * servers and TLS passthrough): Istio's stats filter on tcp_proxy chains.
 */
export type TcpMetric =
  'TCP_OPENED_CONNECTIONS' | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES';
export const TCP_METRICS: readonly TcpMetric[] = Object.freeze([
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
]);

/** A standard metric meshlet records. */
export type IstioMetric = HttpMetric | TcpMetric;

export type { MetricMode, ResolvedTagOverride } from './merge-metrics.js';

export interface ResolvedMetricOverride {
  readonly disabled: boolean;
  /** Sorted by tag name, as istiod emits them. */
  readonly tags: readonly ResolvedTagOverride[];
}

/** The merged Telemetry `metrics` for one workload, for the in-process Prometheus provider. */
export interface ResolvedMetricsConfig {
  /** False when no prometheus provider is in scope or ALL_METRICS is disabled for both modes. */
  readonly enabled: boolean;
  /** The prometheus-typed provider meshlet's registry stands for, null when none is in scope. */
  readonly provider: string | null;
  readonly overrides: Readonly<
    Record<MetricMode, Readonly<Partial<Record<IstioMetric, ResolvedMetricOverride>>>>
  >;
  /**
   * Telemetry `metrics[].reportingInterval` for the provider (ms), null when none is set:
   * how often the TCP metrics of an open connection are reported (the stats filter's
   * `tcp_reporting_duration`, istio model/telemetry.go).
   */
  readonly reportingIntervalMs: number | null;
}

/** The provider meshlet's registry stands for (Istio's default `defaultProviders.metrics`). */
export const PROMETHEUS_PROVIDER = 'prometheus';

/**
 * The stats filter's metric names (istio model/telemetry.go metricToPrometheusMetric): a
 * `customMetric` is matched against these, an IstioMetric is mapped to them.
 */
export const STATS_METRIC_NAMES: Readonly<Record<IstioMetric, string>> = Object.freeze({
  REQUEST_COUNT: 'requests_total',
  REQUEST_DURATION: 'request_duration_milliseconds',
  REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes',
  TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total',
  TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total',
  TCP_RECEIVED_BYTES: 'tcp_received_bytes_total',
});

const byName = (a: ResolvedTagOverride, b: ResolvedTagOverride) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * The overrides of one metric: its IstioMetric entry, then a customMetric naming
 * its stats name (both reach the stats filter as configs for that metric; either one
 * dropping it drops it).
 */
function overrideOf(
  merged: MergedProvider,
  mode: MetricMode,
  metric: IstioMetric,
): ResolvedMetricOverride | undefined {
  const entries = [
    merged.metrics[mode].get(metric),
    merged.metrics[mode].get(STATS_METRIC_NAMES[metric]),
  ].filter((e): e is MergedMetric => e !== undefined);
  if (entries.length === 0) return undefined;
  const tags = new Map<string, ResolvedTagOverride>();
  for (const e of entries) for (const [k, v] of e.tags) tags.set(k, v);
  return Object.freeze({
    disabled: entries.some((e) => e.disabled === true),
    tags: Object.freeze([...tags.values()].sort(byName)),
  });
}

/**
 * Resolve the applicable Telemetries' `metrics` for meshlet's Prometheus registry as
 * istiod does (istio `pilot/pkg/model/telemetry.go` mergeMetrics, telemetryFilters,
 * buildHTTPTelemetryFilter): merge per provider name (merge-metrics.ts), look each name
 * up in meshConfig `extensionProviders` (case-insensitive, istiod's built-ins
 * included), and take the first, by name, whose type is `prometheus`, whatever it is
 * called. `defaultProviders` is meshConfig `defaultProviders.metrics`; `mesh`'s
 * `extensionProviders` define the provider names (istiod's built-ins need none).
 */
export function resolveMetricsConfig(
  scoped: readonly ScopedTelemetry[],
  defaultProviders: readonly string[] = [PROMETHEUS_PROVIDER],
  mesh: Pick<MeshConfig, 'extensionProviders'> = { extensionProviders: [] },
): ResolvedMetricsConfig {
  const merged = mergeMetrics(
    scoped.flatMap((s) => s.resource.spec.metrics ?? []),
    defaultProviders,
  );
  const name = [...merged.keys()]
    .sort()
    .find((n) => findExtensionProvider(mesh, n)?.type === PROMETHEUS_PROVIDER);
  const ours = name === undefined ? undefined : merged.get(name);
  const freezeMode = (md: MetricMode) => {
    const out: Partial<Record<IstioMetric, ResolvedMetricOverride>> = {};
    if (ours === undefined) return Object.freeze(out);
    for (const metric of [...HTTP_METRICS, ...TCP_METRICS]) {
      const o = ours.allDisabled.has(md)
        ? Object.freeze({ disabled: true, tags: Object.freeze([]) })
        : overrideOf(ours, md, metric);
      if (o !== undefined) out[metric] = o;
    }
    return Object.freeze(out);
  };
  return Object.freeze({
    enabled: ours !== undefined && !(ours.allDisabled.has('CLIENT') && ours.allDisabled.has('SERVER')),
    provider: name ?? null,
    overrides: Object.freeze({ CLIENT: freezeMode('CLIENT'), SERVER: freezeMode('SERVER') }),
    reportingIntervalMs: name === undefined ? null : (ours?.reportingIntervalMs ?? null),
  });
}
