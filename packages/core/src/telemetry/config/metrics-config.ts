import type { ScopedTelemetry } from './telemetry-scope.js';

/** The four HTTP metrics meshlet reports, by their Telemetry `IstioMetric` names. */
export type HttpMetric = 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE';
export const HTTP_METRICS: readonly HttpMetric[] = Object.freeze([
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
]);

/** `CLIENT` = reporter `source` (outbound); `SERVER` = reporter `destination` (inbound). */
export type MetricMode = 'CLIENT' | 'SERVER';

/** One resolved `tagOverrides` entry: REMOVE, or UPSERT with a CEL expression. */
export interface ResolvedTagOverride {
  readonly name: string;
  readonly remove: boolean;
  readonly value: string;
}

export interface ResolvedMetricOverride {
  readonly disabled: boolean;
  /** Sorted by tag name, as istiod emits them. */
  readonly tags: readonly ResolvedTagOverride[];
}

/** The merged Telemetry `metrics` for one workload, for the in-process Prometheus provider. */
export interface ResolvedMetricsConfig {
  /** False when the prometheus provider is out of scope or ALL_METRICS is disabled. */
  readonly enabled: boolean;
  readonly overrides: Readonly<
    Record<MetricMode, Readonly<Partial<Record<HttpMetric, ResolvedMetricOverride>>>>
  >;
}

/** The provider meshlet's registry stands for (Istio's default `defaultProviders.metrics`). */
export const PROMETHEUS_PROVIDER = 'prometheus';

const ALL_METRIC_NAMES = [
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_OPENED_CONNECTIONS',
  'TCP_RECEIVED_BYTES',
  'TCP_SENT_BYTES',
];

const isHttpMetric = (m: string): m is HttpMetric => (HTTP_METRICS as readonly string[]).includes(m);

/**
 * Merge the `metrics` of the applicable Telemetries as istiod's `mergeMetrics` does
 * (istio `pilot/pkg/model/telemetry.go`): `providers` set at a more specific level
 * replace the inherited list; overrides apply in order, later ones on top of earlier
 * ones, field by field; disabling ALL_METRICS drops the provider until a later
 * override enables something again. Only the `prometheus` provider is in-process.
 * The default provider list is Istio's `defaultProviders.metrics: [prometheus]`.
 */
export function resolveMetricsConfig(
  scoped: readonly ScopedTelemetry[],
  defaultProviders: readonly string[] = [PROMETHEUS_PROVIDER],
): ResolvedMetricsConfig {
  const metrics = scoped.flatMap((s) => s.resource.spec.metrics ?? []);
  let inScope = defaultProviders;
  for (const m of metrics) {
    const names = (m.providers ?? []).map((p) => p.name);
    if (names.length > 0) inScope = names;
  }
  const ours = (names: readonly string[]) => names.some((n) => n.toLowerCase() === PROMETHEUS_PROVIDER);
  type Acc = { disabled: boolean | null; tags: Map<string, ResolvedTagOverride> };
  const acc: Record<MetricMode, Map<string, Acc>> = { CLIENT: new Map(), SERVER: new Map() };
  // istio model/telemetry.go mergeMetrics: "disable all" is kept per mode, and any later
  // override for a mode enables that mode again.
  const allDisabled = new Set<MetricMode>();
  let parent = defaultProviders;
  for (const m of metrics) {
    const names = (m.providers ?? []).map((p) => p.name);
    const providers = names.length === 0 ? parent : names;
    parent = providers;
    if (!ours(providers) || !ours(inScope)) continue;
    for (const o of m.overrides ?? []) {
      const metric = o.match?.metric;
      // isAllMetrics: no metric (the enum's zero value) or ALL_METRICS, and no customMetric.
      const isAll = o.match?.customMetric === undefined && (metric === undefined || metric === 'ALL_METRICS');
      const mode = o.match?.mode;
      const modes: MetricMode[] =
        mode === 'CLIENT' ? ['CLIENT'] : mode === 'SERVER' ? ['SERVER'] : ['CLIENT', 'SERVER'];
      if (isAll && o.disabled === true) {
        for (const md of modes) allDisabled.add(md);
        continue;
      }
      for (const md of modes) allDisabled.delete(md);
      const targetsList =
        o.match?.customMetric !== undefined
          ? [o.match.customMetric]
          : isAll
            ? ALL_METRIC_NAMES
            : [metric as string];
      for (const md of modes) {
        for (const name of targetsList) {
          const cur = acc[md].get(name) ?? { disabled: null, tags: new Map<string, ResolvedTagOverride>() };
          if (o.disabled !== undefined && o.disabled !== null) cur.disabled = o.disabled;
          for (const [tag, t] of Object.entries(o.tagOverrides ?? {})) {
            const remove = t.operation === 'REMOVE';
            cur.tags.set(tag, Object.freeze({ name: tag, remove, value: remove ? '' : (t.value ?? '') }));
          }
          acc[md].set(name, cur);
        }
      }
    }
  }
  const freezeMode = (md: MetricMode) => {
    const out: Partial<Record<HttpMetric, ResolvedMetricOverride>> = {};
    if (allDisabled.has(md)) {
      for (const name of HTTP_METRICS) out[name] = Object.freeze({ disabled: true, tags: Object.freeze([]) });
      return Object.freeze(out);
    }
    for (const [name, a] of acc[md]) {
      if (!isHttpMetric(name)) continue;
      const tags = [...a.tags.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      out[name] = Object.freeze({ disabled: a.disabled === true, tags: Object.freeze(tags) });
    }
    return Object.freeze(out);
  };
  return Object.freeze({
    enabled: ours(inScope) && !(allDisabled.has('CLIENT') && allDisabled.has('SERVER')),
    overrides: Object.freeze({ CLIENT: freezeMode('CLIENT'), SERVER: freezeMode('SERVER') }),
  });
}
