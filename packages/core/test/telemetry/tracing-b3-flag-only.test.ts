import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// A B3 sampling decision without trace ids (`x-b3-sampled: 1`, `b3: 0`) decides the new
// trace Envoy's Zipkin tracer starts, over its own x-request-id decision
// (envoy source/extensions/tracers/zipkin/zipkin_tracer_impl.cc Driver::startSpan: a root
// span gets `sampled.value_or(tracing_decision.traced)`; span_context_extractor.cc
// extractSampled). The x-request-id mark still follows the id's own draw.

const IN = '000009c3-0000-4000-8000-000000000000'; // 2499: sampled at 25 %
const OUT = '000009c4-0000-4000-8000-000000000000'; // 2500: not sampled at 25 %

const open: MeshTracing[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

function serve(headers: Record<string, string>) {
  const exporter = new InMemorySpanExporter();
  const t = createMeshTracing({
    workload: REVIEWS_V2,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 25 },
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  const s = t.startServerSpan({
    method: 'GET',
    url: '/',
    scheme: 'http',
    authority: 'reviews:9080',
    port: 9080,
    headers,
  });
  s.end({ status: 200 });
  return { requestId: s.requestId, recorded: exporter.getFinishedSpans().length };
}

describe('a B3 sampling flag without trace ids', () => {
  it('samples a new trace the request id would not', () => {
    expect(serve({ 'x-b3-sampled': '1', 'x-request-id': OUT })).toEqual({ requestId: OUT, recorded: 1 });
    expect(serve({ b3: '1', 'x-request-id': OUT }).recorded).toBe(1);
  });

  it('drops one the request id would sample, which keeps its mark', () => {
    expect(serve({ 'x-b3-sampled': '0', 'x-request-id': IN })).toEqual({
      requestId: '000009c3-0000-b000-8000-000000000000',
      recorded: 0,
    });
    expect(serve({ b3: '0', 'x-request-id': IN }).recorded).toBe(0);
  });
});
