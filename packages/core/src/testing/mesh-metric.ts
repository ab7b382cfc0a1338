import type { Mesh } from '../mesh/types.js';

interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  /** Set for a histogram's series (`_bucket`, `_sum`, `_count`). */
  readonly metricName?: string;
}

/**
 * What `sum(name{labels})` over every pod would give in Prometheus: the samples named
 * `name` (a counter or gauge, or a histogram's `_count`, `_sum` or `_bucket` series) whose
 * labels include `labels`, summed over the registries of `meshes`.
 */
export async function sumMetric(
  meshes: readonly Mesh[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  let sum = 0;
  for (const mesh of meshes) {
    if (mesh.metrics === null) continue;
    for (const metric of await mesh.metrics.getMetricsAsJSON()) {
      for (const sample of metric.values as readonly Sample[]) {
        if ((sample.metricName ?? metric.name) !== name) continue;
        if (Object.entries(labels).every(([k, v]) => String(sample.labels[k]) === v)) sum += sample.value;
      }
    }
  }
  return sum;
}
