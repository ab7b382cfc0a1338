import { ROOT_CONTEXT, SamplingDecision, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import { createPropagation, propagationFormats } from '../../src/telemetry/tracing/propagation.js';
import { createMeshSampler } from '../../src/telemetry/tracing/sampler.js';
import { PRODUCTPAGE, REVIEWS_V2, snapshotOf } from './helpers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...over });

describe('createPropagation', () => {
  const p = createPropagation(['tracecontext', 'b3multi']);

  it.each([
    ['W3C traceparent', { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'vendor=x' }, true],
    ['B3 single header', { b3: `${TRACE_ID}-${SPAN_ID}-1` }, true],
    ['B3 multi headers', { 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-b3-sampled': '0' }, false],
  ])('extracts the remote parent from %s', (_name, headers, sampled) => {
    const { context } = p.extract(headers);
    const sc = trace.getSpanContext(context)!;
    expect([sc.traceId, sc.spanId, sc.isRemote, (sc.traceFlags & TraceFlags.SAMPLED) !== 0]).toEqual([
      TRACE_ID,
      SPAN_ID,
      true,
      sampled,
    ]);
  });

  it('keeps x-request-id as sent and generates a UUID when it is absent', () => {
    expect(p.extract({ 'x-request-id': 'abc' })).toMatchObject({
      requestId: 'abc',
      generatedRequestId: false,
    });
    const made = p.extract({});
    expect(made.generatedRequestId).toBe(true);
    expect(made.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(trace.getSpanContext(made.context)).toBeUndefined();
  });

  it('injects W3C and B3 multi headers plus x-request-id, and B3 single when asked', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
    });
    const headers: Record<string, string> = {};
    p.inject(ctx, 'rid-1', headers);
    expect(headers).toEqual({
      traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`,
      'x-b3-traceid': TRACE_ID,
      'x-b3-spanid': SPAN_ID,
      'x-b3-sampled': '1',
      'x-request-id': 'rid-1',
    });
    const single: Record<string, string> = {};
    createPropagation(['b3']).inject(ctx, null, single);
    expect(single).toEqual({ b3: `${TRACE_ID}-${SPAN_ID}-1` });
  });

  it('reads OTEL_PROPAGATORS, with none meaning nothing', () => {
    expect(propagationFormats({})).toEqual(['tracecontext', 'b3multi']);
    expect(propagationFormats({ OTEL_PROPAGATORS: 'b3, tracecontext,jaeger' })).toEqual([
      'b3',
      'tracecontext',
    ]);
    expect(propagationFormats({ OTEL_PROPAGATORS: 'none' })).toEqual([]);
  });
});

describe('resolveTracing', () => {
  const tel = (ns: string, name: string, body: string) =>
    `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: ${name}, namespace: ${ns} }\nspec:\n${body}\n---\n`;

  it('takes Telemetry randomSamplingPercentage over meshConfig, per mode, most specific last', () => {
    const snap = snapshotOf(
      tel('istio-system', 'mesh', '  tracing:\n  - randomSamplingPercentage: 10') +
        tel(
          'default',
          'pp',
          '  selector: { matchLabels: { app: productpage } }\n  tracing:\n  - match: { mode: SERVER }\n    randomSamplingPercentage: 50\n    customTags: { team: { literal: { value: bookinfo } } }',
        ),
    );
    const r = resolveTracing(applicableTelemetries(snap, PRODUCTPAGE), mesh({ tracingSampling: 100 }));
    expect([r.client.samplingPercent, r.server.samplingPercent]).toEqual([10, 50]);
    expect(r.server.customTags).toEqual({ team: { literal: { value: 'bookinfo' } } });
    expect(r.client.customTags).toEqual({});
    const other = resolveTracing(applicableTelemetries(snap, REVIEWS_V2), mesh());
    expect(other.server.samplingPercent).toBe(10);
  });

  it('falls back to meshConfig defaultConfig.tracing.sampling, then to 1 %', () => {
    const fromMesh = resolveTracing(
      [],
      mesh({ tracingSampling: 25, defaultConfig: { tracing: { sampling: 25 } } }),
    );
    expect([fromMesh.server.samplingPercent, fromMesh.server.samplingSource]).toEqual([25, 'meshConfig']);
    const dflt = resolveTracing([], mesh());
    expect([dflt.client.samplingPercent, dflt.client.samplingSource]).toEqual([1, 'default']);
  });
});

describe('createMeshSampler', () => {
  const remote = (flags: TraceFlags) =>
    trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: flags,
      isRemote: true,
    });

  it("lets a parent's sampled flag win over the mesh percentage", () => {
    const never = createMeshSampler({ client: 0, server: 0 });
    const always = createMeshSampler({ client: 100, server: 100 });
    expect(
      never.shouldSample(remote(TraceFlags.SAMPLED), TRACE_ID, 'GET', SpanKind.SERVER, {}, []).decision,
    ).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(
      always.shouldSample(remote(TraceFlags.NONE), TRACE_ID, 'GET', SpanKind.SERVER, {}, []).decision,
    ).toBe(SamplingDecision.NOT_RECORD);
  });

  it('samples new traces at the server or client percentage by span kind', () => {
    const s = createMeshSampler({ client: 0, server: 100 });
    expect(s.shouldSample(ROOT_CONTEXT, TRACE_ID, 'GET', SpanKind.SERVER, {}, []).decision).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    expect(s.shouldSample(ROOT_CONTEXT, TRACE_ID, 'GET', SpanKind.CLIENT, {}, []).decision).toBe(
      SamplingDecision.NOT_RECORD,
    );
    const half = createMeshSampler({ client: 50, server: 50 });
    let sampled = 0;
    for (let i = 0; i < 2000; i++) {
      const id = (BigInt(i) * 0x9e3779b97f4a7c15n).toString(16).padStart(32, '0').slice(-32);
      if (
        Number(half.shouldSample(ROOT_CONTEXT, id, 'GET', SpanKind.SERVER, {}, []).decision) ===
        Number(SamplingDecision.RECORD_AND_SAMPLED)
      )
        sampled++;
    }
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
  });
});
