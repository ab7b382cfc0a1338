import { describe, expect, it } from 'vitest';
import { createMeshMetrics } from '../../src/telemetry/metrics/istio-metrics.js';
import { MESH, PRODUCTPAGE } from './helpers.js';
import { outboundEvent, samples } from './metrics-support.js';

// Envoy records whole milliseconds: istio_stats.cc passes
// `absl::FromChrono(duration) / absl::Milliseconds(1)`, absl's Duration / Duration, which
// is an int64 truncated toward zero (absl/time/time.h), to recordHistogram.
describe('istio_request_duration_milliseconds', () => {
  it('records whole milliseconds, truncated as Envoy divides: 0.7 ms lands in le="0.5"', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local, durationMs: 0.7 }));
    m.record(outboundEvent({ source: m.local, durationMs: 12.9 }));
    const buckets = await samples(m.registry, 'istio_request_duration_milliseconds_bucket');
    const le = (v: string) => buckets.find((b) => b.labels['le'] === v)!.value;
    expect([le('0.5'), le('1'), le('10'), le('25')]).toEqual([1, 1, 1, 2]);
    const [sum] = await samples(m.registry, 'istio_request_duration_milliseconds_sum');
    expect(sum!.value).toBe(12);
  });

  it('leaves the byte histograms as measured', async () => {
    const m = createMeshMetrics({ workload: PRODUCTPAGE, meshConfig: MESH });
    m.record(outboundEvent({ source: m.local, durationMs: 1.5, requestBytes: 310, responseBytes: 77 }));
    const [req] = await samples(m.registry, 'istio_request_bytes_sum');
    const [res] = await samples(m.registry, 'istio_response_bytes_sum');
    expect([req!.value, res!.value]).toEqual([310, 77]);
  });
});
