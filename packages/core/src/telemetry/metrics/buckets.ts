/**
 * Envoy's default histogram buckets, which every Istio histogram uses, the byte-size
 * ones included (envoy `source/common/stats/histogram_impl.cc` defaultBuckets).
 * A pod may replace them with `sidecar.istio.io/statsHistogramBuckets`.
 */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);
