import type { Metric, Registry } from 'prom-client';
import type { LabelSet } from './istio-labels.js';

/**
 * A Prometheus counter or histogram that keeps one accumulator per label set and
 * builds the exposition only when scraped. prom-client's own Counter/Histogram hash
 * every label set on every `inc`/`observe` (sorting 25 label names each time); here
 * the hot path is a Map lookup by a key computed once per label set object.
 * Registered into a prom-client Registry as a custom metric (its `get()` contract).
 */
export class SeriesStore {
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly #buckets: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(options: {
    name: string;
    help: string;
    type: 'counter' | 'histogram';
    buckets?: readonly number[];
  }) {
    this.name = options.name;
    this.help = options.help;
    this.type = options.type;
    this.#buckets = options.buckets ?? [];
  }

  /** Register into a Registry, replacing a metric of the same name. */
  register(registry: Registry): this {
    if (registry.getSingleMetric(this.name) !== undefined) registry.removeSingleMetric(this.name);
    // A custom collector: the Registry only calls `get()`, `reset()` and reads `name`/`type`.
    registry.registerMetric(this as unknown as Metric);
    return this;
  }

  /**
   * Add `value` (1 for a counter; the observation for a histogram) to the series `key`.
   * A new series needs its `labels`; with null, returns false and adds nothing, so the
   * caller builds the label set only for a series not seen before.
   */
  add(key: string, labels: LabelSet | null, value: number): boolean {
    const s = this.#series.get(key);
    if (s !== undefined) {
      this.addTo(s, value);
      return true;
    }
    if (labels === null) return false;
    this.addTo(this.series(key, labels), value);
    return true;
  }

  /**
   * The series `key` (made with `labels` when new), for a caller that adds to the same
   * series many times: `addTo` it while it is `live`.
   */
  series(key: string, labels: LabelSet): Series {
    let s = this.#series.get(key);
    if (s === undefined) {
      s = {
        labels,
        value: 0,
        sum: 0,
        counts: this.type === 'histogram' ? new Float64Array(this.#buckets.length + 1) : null,
        live: true,
      };
      this.#series.set(key, s);
    }
    return s;
  }

  /** Adds to a series of this store; one `reset()` dropped (`live` false) counts nowhere. */
  addTo(s: Series, value: number): void {
    if (s.counts === null) {
      s.value += value;
      return;
    }
    s.value += 1;
    s.sum += value;
    const b = this.#buckets;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
  }

  reset(): void {
    for (const s of this.#series.values()) s.live = false;
    this.#series.clear();
  }

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  }> {
    const values: { labels: Record<string, string | number>; value: number; metricName?: string }[] = [];
    for (const s of this.#series.values()) {
      if (s.counts === null) {
        values.push({ labels: s.labels, value: s.value });
        continue;
      }
      let cumulative = 0;
      for (let i = 0; i < this.#buckets.length; i++) {
        cumulative += s.counts[i] ?? 0;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...s.labels, le: this.#buckets[i] as number },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.value });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.value });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
}

/** One labelled series of a store. */
export interface Series {
  readonly labels: LabelSet;
  /** Counter value, or histogram count. */
  value: number;
  sum: number;
  /** Per-bucket (not cumulative) counts, the last one for +Inf; null for a counter. */
  readonly counts: Float64Array | null;
  /** False once `reset()` dropped it from its store. */
  live: boolean;
}

const keys = new WeakMap<LabelSet, string>();

/** A content key for a label set, computed once per (frozen) object. */
export function labelKey(labels: LabelSet): string {
  let k = keys.get(labels);
  if (k === undefined) {
    k = '';
    for (const name in labels) k += `${name}\u0001${labels[name] as string}\u0002`;
    keys.set(labels, k);
  }
  return k;
}
