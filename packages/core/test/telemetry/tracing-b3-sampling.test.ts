import { TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { REVIEWS_V2 } from './helpers.js';

// B3 and the sampling decision, as Envoy's Zipkin tracer takes them.
// - B3 without a sampling flag defers the decision: the trace continues and is sampled when
//   the connection manager's x-request-id decision says so (envoy
//   source/extensions/tracers/zipkin/span_context_extractor.cc extractSampled: no
//   x-b3-sampled, or a b3 header without its flag, gives tracing_decision.traced).
// - A B3 flag without trace ids (`x-b3-sampled: 1`, `b3: 0`) decides the new trace over the
//   x-request-id decision (zipkin_tracer_impl.cc Driver::startSpan: a root span gets
//   `sampled.value_or(tracing_decision.traced)`); the x-request-id mark still follows the id's
//   own draw.

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
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
  return { s, spans: exporter.getFinishedSpans() };
}

describe('B3 context without a sampling decision', () => {
  it('continues the B3 trace and samples it by x-request-id (multi-header)', () => {
    const sampled = serve({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-request-id': IN });
    expect(sampled.spans).toHaveLength(1);
    expect(sampled.spans[0]!.spanContext().traceId).toBe(TRACE_ID);
    expect(sampled.spans[0]!.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(sampled.s.requestId).toBe('000009c3-0000-b000-8000-000000000000');
    const not = serve({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-request-id': OUT });
    expect(not.spans).toHaveLength(0);
    expect(not.s.span?.spanContext().traceFlags).toBe(TraceFlags.NONE);
  });

  it('does the same for a single b3 header without its flag, and keeps an explicit 0', () => {
    expect(serve({ b3: `${TRACE_ID}-${SPAN_ID}`, 'x-request-id': IN }).spans).toHaveLength(1);
    expect(serve({ b3: `${TRACE_ID}-${SPAN_ID}-0`, 'x-request-id': IN }).spans).toHaveLength(0);
    expect(
      serve({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-b3-sampled': '0', 'x-request-id': IN })
        .spans,
    ).toHaveLength(0);
  });
});

describe('a B3 sampling flag without trace ids', () => {
  it('samples a new trace the request id would not', () => {
    const sampled = serve({ 'x-b3-sampled': '1', 'x-request-id': OUT });
    expect([sampled.s.requestId, sampled.spans.length]).toEqual([OUT, 1]);
    expect(serve({ b3: '1', 'x-request-id': OUT }).spans).toHaveLength(1);
  });

  it('drops one the request id would sample, which keeps its mark', () => {
    const dropped = serve({ 'x-b3-sampled': '0', 'x-request-id': IN });
    expect([dropped.s.requestId, dropped.spans.length]).toEqual(['000009c3-0000-b000-8000-000000000000', 0]);
    expect(serve({ b3: '0', 'x-request-id': IN }).spans).toHaveLength(0);
  });
});
