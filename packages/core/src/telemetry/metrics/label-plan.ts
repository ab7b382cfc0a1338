import type { ResolvedMetricOverride } from '../config/metrics-config.js';
import { compileTagExpression, type TagExpressionProblem, type TagValue } from './tag-expression.js';
import type { LabelSet } from './istio-labels.js';
import type { MetricEvent } from './metric-event.js';

const PROM_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Whether Prometheus accepts `name` as a label name. */
export const isPrometheusLabelName = (name: string): boolean => PROM_LABEL.test(name);

/**
 * The tagOverrides of one metric in one mode, compiled: labels to drop, labels to set
 * to a constant, labels computed per event. `apply` turns a standard label set into
 * the metric's; with only constants it caches the result per standard set.
 */
export interface LabelPlan {
  readonly empty: boolean;
  /** True when a tag reads the event (headers, method...): the series key must include those values. */
  readonly dynamic: boolean;
  /** The per-event part of the series key (the dynamic tag values); '' for a static plan. */
  dynamicKey(event: MetricEvent): string;
  /** Label names this plan may emit beyond (or instead of) the standard ones. */
  readonly added: readonly string[];
  apply(base: LabelSet, event: MetricEvent): LabelSet;
  /** The standard set with REMOVE and constant UPSERTs applied (cached per set). */
  applyStatic(base: LabelSet): LabelSet;
  /** A static set plus this event's dynamic tag values. */
  withDynamic(statics: LabelSet, event: MetricEvent): LabelSet;
}

export const IDENTITY_PLAN: LabelPlan = Object.freeze({
  empty: true,
  dynamic: false,
  dynamicKey: () => '',
  added: Object.freeze([]),
  apply: (base: LabelSet) => base,
  applyStatic: (base: LabelSet) => base,
  withDynamic: (statics: LabelSet) => statics,
});

/** Compile one metric's overrides; problems are collected, never thrown. */
export function compileLabelPlan(
  override: ResolvedMetricOverride | undefined,
  problems: TagExpressionProblem[],
): LabelPlan {
  if (override === undefined || override.tags.length === 0) return IDENTITY_PLAN;
  const remove = new Set<string>();
  const constant = new Map<string, string>();
  const dynamic: (readonly [string, TagValue])[] = [];
  for (const tag of override.tags) {
    if (!PROM_LABEL.test(tag.name)) {
      problems.push({
        expression: tag.name,
        message: `tag name ${JSON.stringify(tag.name)} is not a valid Prometheus label name; ignored`,
      });
      continue;
    }
    if (tag.remove) {
      remove.add(tag.name);
      continue;
    }
    const compiled = compileTagExpression(tag.value);
    if (compiled.problem !== null) problems.push(compiled.problem);
    if (compiled.kind !== 'value') {
      // istio_stats.cc: a value that does not parse drops the tag (a standard one is
      // removed); one Envoy rejects leaves the override unapplied.
      if (compiled.kind === 'drop') remove.add(tag.name);
      continue;
    }
    const value = compiled.value;
    if (value.constant) constant.set(tag.name, value.evaluate({} as MetricEvent));
    else dynamic.push([tag.name, value]);
  }
  const cache = new WeakMap<LabelSet, LabelSet>();
  const applyStatic = (base: LabelSet): LabelSet => {
    let hit = cache.get(base);
    if (hit === undefined) {
      const out: Record<string, string> = {};
      // Keep Istio's label order: overridden standard labels stay in place, new ones follow.
      for (const k in base) {
        if (remove.has(k)) continue;
        out[k] = constant.get(k) ?? (base[k] as string);
      }
      for (const [k, v] of constant) if (!(k in out)) out[k] = v;
      hit = Object.freeze(out);
      cache.set(base, hit);
    }
    return hit;
  };
  const withDynamic = (statics: LabelSet, event: MetricEvent): LabelSet => {
    const out: Record<string, string> = { ...statics };
    for (const [k, v] of dynamic) out[k] = v.evaluate(event);
    return Object.freeze(out);
  };
  return Object.freeze({
    empty: false,
    dynamic: dynamic.length > 0,
    dynamicKey: (event: MetricEvent) => {
      let k = '';
      for (const [, v] of dynamic) k += `${v.evaluate(event)}\u0003`;
      return k;
    },
    added: Object.freeze([...constant.keys(), ...dynamic.map(([k]) => k)]),
    applyStatic,
    withDynamic,
    apply: (base: LabelSet, event: MetricEvent) =>
      dynamic.length > 0 ? withDynamic(applyStatic(base), event) : applyStatic(base),
  });
}
