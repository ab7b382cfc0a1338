import type { Metrics, MetricsOverrides } from '../../config/schema/telemetry.js';
import { toMs } from '../../compile/duration.js';

/** `CLIENT` = reporter `source` (outbound); `SERVER` = reporter `destination` (inbound). */
export type MetricMode = 'CLIENT' | 'SERVER';

/** One resolved `tagOverrides` entry: REMOVE, or UPSERT with a CEL expression. */
export interface ResolvedTagOverride {
  readonly name: string;
  readonly remove: boolean;
  readonly value: string;
}

/** The overrides merged for one metric (an IstioMetric name, or a customMetric as written). */
export interface MergedMetric {
  /** The last `disabled` set, null when none was. */
  disabled: boolean | null;
  readonly tags: Map<string, ResolvedTagOverride>;
}

/** What mergeMetrics keeps for one provider name. */
export interface MergedProvider {
  /** Modes where ALL_METRICS was disabled and nothing later enabled them again. */
  readonly allDisabled: Set<MetricMode>;
  readonly metrics: Record<MetricMode, Map<string, MergedMetric>>;
  /** The last `reportingInterval` (ms) of an entry applying to this provider; null when none. */
  reportingIntervalMs: number | null;
}

/** Every IstioMetric but ALL_METRICS, as istiod's `allMetrics` lists them. */
const ALL_METRIC_NAMES: readonly string[] = [
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

const modesOf = (o: MetricsOverrides): readonly MetricMode[] =>
  o.match?.mode === 'CLIENT' ? ['CLIENT'] : o.match?.mode === 'SERVER' ? ['SERVER'] : ['CLIENT', 'SERVER'];

/** isAllMetrics: no customMetric, and ALL_METRICS or no metric (the enum's zero value). */
const isAll = (o: MetricsOverrides): boolean =>
  o.match?.customMetric === undefined && (o.match?.metric ?? 'ALL_METRICS') === 'ALL_METRICS';

const namesOf = (o: MetricsOverrides): readonly string[] =>
  o.match?.customMetric !== undefined
    ? [o.match.customMetric]
    : isAll(o)
      ? ALL_METRIC_NAMES
      : [o.match?.metric ?? ''];

const emptyProvider = (): MergedProvider => ({
  allDisabled: new Set(),
  metrics: { CLIENT: new Map(), SERVER: new Map() },
  reportingIntervalMs: null,
});

function applyOverride(p: MergedProvider, o: MetricsOverrides): void {
  // "if we disable all metrics, we should drop the entire filter" for those modes.
  if (isAll(o) && o.disabled === true) {
    for (const mode of modesOf(o)) p.allDisabled.add(mode);
    return;
  }
  for (const mode of modesOf(o)) {
    // Any later override for a mode enables that mode again.
    p.allDisabled.delete(mode);
    for (const name of namesOf(o)) {
      const cur = p.metrics[mode].get(name) ?? {
        disabled: null,
        tags: new Map<string, ResolvedTagOverride>(),
      };
      if (o.disabled !== undefined && o.disabled !== null) cur.disabled = o.disabled;
      for (const [tag, t] of Object.entries(o.tagOverrides ?? {})) {
        const remove = t.operation === 'REMOVE';
        cur.tags.set(tag, Object.freeze({ name: tag, remove, value: remove ? '' : (t.value ?? '') }));
      }
      p.metrics[mode].set(name, cur);
    }
  }
}

/**
 * istio `pilot/pkg/model/telemetry.go` mergeMetrics: `metrics` are the applicable
 * Telemetries' entries, least specific first. The last entry naming providers sets
 * the providers in scope (else meshConfig `defaultProviders.metrics`); each entry
 * applies its overrides, in order, to its providers (or, naming none, to the previous
 * entry's) that are in scope. Keyed by provider name as written.
 */
export function mergeMetrics(
  metrics: readonly Metrics[],
  defaults: readonly string[],
): ReadonlyMap<string, MergedProvider> {
  const out = new Map<string, MergedProvider>();
  if (metrics.length === 0) {
    for (const name of defaults) out.set(name, emptyProvider());
    return out;
  }
  const named = (m: Metrics) => (m.providers ?? []).map((p) => p.name);
  let inScopeNames = defaults;
  for (const m of metrics) if (named(m).length > 0) inScopeNames = named(m);
  const inScope = new Set(inScopeNames);
  let parent = defaults;
  for (const m of metrics) {
    const names = named(m).length > 0 ? named(m) : parent;
    parent = names;
    for (const name of names) {
      if (!inScope.has(name)) continue;
      let p = out.get(name);
      if (p === undefined) out.set(name, (p = emptyProvider()));
      // The more specific entry's interval wins (telemetry.go mergeMetrics reportingIntervals).
      const interval = toMs(m.reportingInterval);
      if (interval !== null) p.reportingIntervalMs = interval;
      for (const o of m.overrides ?? []) applyOverride(p, o);
    }
  }
  return out;
}
