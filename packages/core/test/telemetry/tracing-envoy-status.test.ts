import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { PRODUCTPAGE } from './helpers.js';

// Envoy marks a span as an error (tag `error=true`) only when there was no response or a
// 5xx (source/common/tracing/http_tracer_impl.cc setCommonTags), on ingress and egress
// alike; the HTTP status is the string tag `http.status_code`, "0" without a response.

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function tracing() {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: PRODUCTPAGE,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 100 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  return { t, exporter };
}

const clientEnd = (status: number): ReadableSpan => {
  const { t, exporter } = tracing();
  t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/r', headers: {} }).end({ status });
  return exporter.getFinishedSpans()[0]!;
};

describe('span error status as Envoy sets it', () => {
  it("gives a CLIENT span with a 4xx no `error` tag (Envoy's), though its OTel status is an error (semconv)", () => {
    const s = clientEnd(404);
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
    expect(s.attributes['error']).toBeUndefined();
    expect(s.attributes['http.status_code']).toBe('404');
  });

  it('marks a 5xx and a call without a response with error=true, on both kinds', () => {
    const s503 = clientEnd(503);
    const s0 = clientEnd(0);
    const { t, exporter } = tracing();
    t.startServerSpan({
      method: 'GET',
      url: '/',
      scheme: 'http',
      authority: 'productpage:9080',
      port: 9080,
      headers: {},
    }).end({ status: 500 });
    const srv = exporter.getFinishedSpans()[0]!;
    for (const s of [s503, s0, srv]) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.attributes['error']).toBe('true');
    }
    expect([s503, s0, srv].map((s) => s.attributes['http.status_code'])).toEqual(['503', '0', '500']);
  });
});
