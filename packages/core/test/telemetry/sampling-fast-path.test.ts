import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  context as otelContext,
  ROOT_CONTEXT,
  SamplingDecision,
  trace,
  TraceFlags,
  type Context,
  type ContextManager,
} from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { createPropagation, type PropagationFormat } from '../../src/telemetry/tracing/propagation.js';
import { currentContext, runWithInboundContext } from '../../src/telemetry/tracing/request-context.js';
import { createMeshIdGenerator, knownUnsampledSpan } from '../../src/telemetry/tracing/unsampled.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';

const open: MeshTracing[] = [];

/** Tracing on meshlet's own provider, no span processor, no export, sampling at `percent`. */
const ownTracing = (percent: number): MeshTracing =>
  createMeshTracing({
    workload: PRODUCTPAGE,
    meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: percent },
    otlp: false,
    env: {},
  });
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
});

const serverReq = {
  method: 'GET',
  url: '/productpage',
  scheme: 'http' as const,
  authority: 'productpage:9080',
  port: 9080,
  headers: {},
};

describe('knownUnsampledSpan', () => {
  it.each([1, 30, 99])(
    'decides a new trace at %i %% exactly as the SDK ratio sampler decides its trace id',
    (percent) => {
      const sdk = new TraceIdRatioBasedSampler(percent / 100);
      const ids = createMeshIdGenerator();
      let sampled = 0;
      const draws = 4000;
      for (let i = 0; i < draws; i++) {
        const span = knownUnsampledSpan(ROOT_CONTEXT, percent, ids);
        const traceId = span === null ? ids.generateTraceId() : span.spanContext().traceId;
        if (span === null) sampled++;
        else expect(span.spanContext().traceFlags).toBe(TraceFlags.NONE);
        expect(sdk.shouldSample(ROOT_CONTEXT, traceId).decision).toBe(
          span === null ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
        );
      }
      // Binomial(4000, p): five standard deviations either side.
      const sd = Math.sqrt(draws * (percent / 100) * (1 - percent / 100));
      expect(Math.abs(sampled - (draws * percent) / 100)).toBeLessThan(5 * sd);
    },
  );

  it('defers a sampled parent to the SDK and follows an unsampled one without it', () => {
    const parent = (flags: TraceFlags) =>
      trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: flags,
      });
    const ids = createMeshIdGenerator();
    expect(knownUnsampledSpan(parent(TraceFlags.SAMPLED), 0, ids)).toBeNull();
    const child = knownUnsampledSpan(parent(TraceFlags.NONE), 100, ids)!.spanContext();
    expect([child.traceId, child.traceFlags]).toEqual(['4bf92f3577b34da6a3ce929d0e0e4736', TraceFlags.NONE]);
    expect(ids.preset).toBeNull();
  });
});

describe('createMeshTracing sampling', () => {
  it('with useRequestIdForTraceSampling: false, records about the configured share of new traces, each on a trace id the ratio sampler accepts', () => {
    const exporter = new InMemorySpanExporter();
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: 50 },
      snapshot: snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ useRequestIdForTraceSampling: false }]
`),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      otlp: false,
      env: {},
    });
    open.push(t);
    const n = 2000;
    const unsampled: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = t.startServerSpan(serverReq);
      if (s.span?.isRecording() !== true) unsampled.push(s.span!.spanContext().traceId);
      s.end({ status: 200 });
    }
    const recorded = exporter.getFinishedSpans();
    // One draw per trace: 50 %, not the 25 % a second SDK draw would give.
    expect(Math.abs(recorded.length - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    expect(recorded.length + unsampled.length).toBe(n);
    const sdk = new TraceIdRatioBasedSampler(0.5);
    const decision = (id: string) => sdk.shouldSample(ROOT_CONTEXT, id).decision;
    expect(new Set(recorded.map((s) => decision(s.spanContext().traceId)))).toEqual(
      new Set([SamplingDecision.RECORD_AND_SAMPLED]),
    );
    expect(new Set(unsampled.map(decision))).toEqual(new Set([SamplingDecision.NOT_RECORD]));
  });
});

describe("new traces sampled from x-request-id (Envoy's UUID request-id extension; useRequestIdForTraceSampling defaults to true)", () => {
  const tracing = (percent: number, exporter: InMemorySpanExporter) => {
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: percent },
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      otlp: false,
      env: {},
    });
    open.push(t);
    return t;
  };
  const withId = (id: string) => ({ ...serverReq, headers: { ...serverReq.headers, 'x-request-id': id } });

  it('decides by the first 8 hex digits % 10000 against the percentage in ten-thousandths, and marks a sampled id', () => {
    const exporter = new InMemorySpanExporter();
    const t = tracing(25, exporter);
    // 0x00000999 % 10000 = 2457 < 2500: sampled; 0x000009c4 % 10000 = 2500: not.
    const sampled = t.startServerSpan(withId('00000999-1111-4222-8333-444455556666'));
    const not = t.startServerSpan(withId('000009c4-1111-4222-8333-444455556666'));
    expect(sampled.span?.isRecording()).toBe(true);
    // Envoy's trace reason "sampled" ('b') replaces the UUID version digit; the app and the
    // next hop see the marked id.
    expect(sampled.requestId).toBe('00000999-1111-b222-8333-444455556666');
    expect(not.span?.isRecording()).not.toBe(true);
    expect(not.requestId).toBe('000009c4-1111-4222-8333-444455556666');
    sampled.end({ status: 200 });
    expect(exporter.getFinishedSpans()[0]?.attributes['guid:x-request-id']).toBe(
      '00000999-1111-b222-8333-444455556666',
    );
  });

  it('traces an id an earlier hop marked even at 0 %, and gives every hop the same answer for the same id', () => {
    const exporter = new InMemorySpanExporter();
    const zero = tracing(0, exporter);
    const marked = zero.startServerSpan(withId('ffffffff-1111-b222-8333-444455556666'));
    expect(marked.span?.isRecording()).toBe(true);
    expect(marked.requestId).toBe('ffffffff-1111-b222-8333-444455556666');
    const a = tracing(30, exporter);
    const b = tracing(30, exporter);
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      const x = a.startServerSpan(withId(id));
      const y = b.startServerSpan(withId(id));
      expect(x.span?.isRecording() === true).toBe(y.span?.isRecording() === true);
      expect(x.requestId).toBe(y.requestId);
    }
  });

  it('traces a request carrying x-client-trace-id at 0 %, marking the id client-forced', () => {
    // envoy conn_manager_utility.cc mutateTracingRequestHeader: x-client-trace-id forces the
    // trace (reason ClientForced, 'c') when client sampling allows it; istiod sets it to 100 %.
    const exporter = new InMemorySpanExporter();
    const zero = tracing(0, exporter);
    const forced = zero.startServerSpan({
      ...serverReq,
      headers: { 'x-request-id': 'ffffffff-1111-4222-8333-444455556666', 'x-client-trace-id': 'debug-1' },
    });
    expect(forced.span?.isRecording()).toBe(true);
    expect(forced.requestId).toBe('ffffffff-1111-c222-8333-444455556666');
    const plain = zero.startServerSpan(withId('ffffffff-1111-4222-8333-444455556666'));
    expect(plain.span?.isRecording()).not.toBe(true);
  });

  it('decides an outbound call that starts a trace the same way, rewriting the x-request-id it sends', () => {
    const exporter = new InMemorySpanExporter();
    const t = tracing(25, exporter);
    const sampled: Record<string, string> = { 'x-request-id': '00000999-1111-4222-8333-444455556666' };
    t.startClientSpan({ method: 'GET', url: 'http://reviews:9080/', headers: sampled }).end({ status: 200 });
    expect(sampled['x-request-id']).toBe('00000999-1111-b222-8333-444455556666');
    expect(sampled['traceparent']).toMatch(/-01$/);
    const not: Record<string, string> = { 'x-request-id': '000009c4-1111-4222-8333-444455556666' };
    t.startClientSpan({ method: 'GET', url: 'http://reviews:9080/', headers: not }).end({ status: 200 });
    expect(not['x-request-id']).toBe('000009c4-1111-4222-8333-444455556666');
    expect(not['traceparent']).toMatch(/-00$/);
  });

  it('samples about the configured share of generated ids', () => {
    const exporter = new InMemorySpanExporter();
    const t = tracing(50, exporter);
    const n = 2000;
    for (let i = 0; i < n; i++) t.startServerSpan(serverReq).end({ status: 200 });
    const recorded = exporter.getFinishedSpans().length;
    expect(Math.abs(recorded - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
  });
});

describe('createPropagation extract', () => {
  const p = createPropagation(['tracecontext', 'b3multi', 'baggage']);

  it('reads baggage without trace headers and nothing from unrelated headers', () => {
    const withBaggage = p.extract({ baggage: 'tenant=a' }).context;
    expect(withBaggage).not.toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(withBaggage)).toBeUndefined();
    const plain = p.extract({ 'x-b3-sampled': '1', tracestate: 'v=1' }).context;
    expect(plain).toBe(ROOT_CONTEXT);
  });
});

/** An application's context manager, as @opentelemetry/context-async-hooks makes one. */
class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

describe('runWithInboundContext', () => {
  const ctx = (requestId: string) => Object.freeze({ trace: ROOT_CONTEXT, requestId });

  it('keeps the context across awaits without an OpenTelemetry context manager', async () => {
    const seen = await runWithInboundContext(ctx('rid-plain'), async () => {
      await new Promise((r) => setImmediate(r));
      return currentContext()?.requestId;
    });
    expect([seen, currentContext()]).toEqual(['rid-plain', undefined]);
  });

  it('keeps the context and makes the trace active through an application context manager', async () => {
    const manager = new AlsContextManager();
    otelContext.setGlobalContextManager(manager);
    try {
      const parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: TraceFlags.SAMPLED,
      });
      const seen = await runWithInboundContext({ trace: parent, requestId: 'rid-otel' }, async () => {
        await new Promise((r) => setImmediate(r));
        return [currentContext()?.requestId, trace.getSpanContext(otelContext.active())?.spanId];
      });
      expect(seen).toEqual(['rid-otel', '00f067aa0ba902b7']);
      expect(currentContext()).toBeUndefined();
    } finally {
      otelContext.disable();
    }
  });
});

describe('startServerSpan for a new trace the sampler rejects', () => {
  const tracingAt = (percent: number, processors = true) => {
    const exporter = new InMemorySpanExporter();
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: { ...DEFAULT_MESH_CONFIG, tracingSampling: percent },
      ...(processors ? { spanProcessors: [new SimpleSpanProcessor(exporter)] } : {}),
      otlp: false,
      env: {},
    });
    open.push(t);
    return { t, exporter };
  };

  it('builds its unsampled trace context once, on first read, and continues it into a CLIENT span', () => {
    const { t, exporter } = tracingAt(0);
    const server = t.startServerSpan(serverReq);
    const first = server.context.trace;
    expect(server.context.trace).toBe(first);
    const sc = trace.getSpanContext(first)!;
    expect(sc.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sc.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(sc.traceFlags).toBe(TraceFlags.NONE);
    expect(server.span!.spanContext()).toEqual(sc);
    expect(server.span!.isRecording()).toBe(false);
    expect(server.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const headers: Record<string, string> = {};
    t.startClientSpan({ method: 'GET', url: 'http://reviews:9080/', headers, parent: server.context }).end({
      status: 200,
    });
    server.end({ status: 200 });
    expect(headers['traceparent']).toMatch(new RegExp(`^00-${sc.traceId}-[0-9a-f]{16}-00$`));
    expect(headers['x-b3-traceid']).toBe(sc.traceId);
    expect(headers['x-b3-sampled']).toBe('0');
    expect(headers['x-request-id']).toBe(server.requestId);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('gives every request its own trace id', () => {
    const { t } = tracingAt(0);
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++)
      ids.add(trace.getSpanContext(t.startServerSpan(serverReq).context.trace)!.traceId);
    expect(ids.size).toBe(200);
  });
});

describe('a sampled request on meshlet’s own provider with no span processor', () => {
  it('records nothing but still tells the next hop the trace is sampled', () => {
    const t = ownTracing(100);
    open.push(t);
    const server = t.startServerSpan(serverReq);
    expect(server.span!.isRecording()).toBe(false);
    const sc = server.span!.spanContext();
    expect(sc.traceFlags).toBe(TraceFlags.SAMPLED);
    const headers: Record<string, string> = {};
    t.startClientSpan({ method: 'GET', url: 'http://reviews:9080/', headers, parent: server.context }).end({
      status: 200,
    });
    expect(headers['traceparent']).toMatch(new RegExp(`^00-${sc.traceId}-[0-9a-f]{16}-01$`));
    expect(headers['x-b3-sampled']).toBe('1');
  });

  it('keeps a sampled parent’s trace id and tracestate', () => {
    const t = ownTracing(0);
    open.push(t);
    const server = t.startServerSpan({
      ...serverReq,
      headers: {
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'vendor=x',
      },
    });
    const sc = server.span!.spanContext();
    expect([sc.traceId, sc.traceFlags, sc.traceState?.get('vendor')]).toEqual([
      '4bf92f3577b34da6a3ce929d0e0e4736',
      TraceFlags.SAMPLED,
      'x',
    ]);
    expect(sc.spanId).not.toBe('00f067aa0ba902b7');
  });
});

describe('unsampled CLIENT spans written without the OpenTelemetry propagators', () => {
  const formatSets: PropagationFormat[][] = [
    ['tracecontext', 'b3multi'],
    ['tracecontext'],
    ['b3'],
    ['b3multi', 'baggage'],
    ['tracecontext', 'b3', 'b3multi', 'baggage'],
    [],
  ];

  it.each(formatSets)('writes what the propagators write for an unsampled span (%j)', (...formats) => {
    const p = createPropagation(formats);
    const sc = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.NONE,
    };
    const viaOtel: Record<string, string> = {};
    p.inject(trace.setSpanContext(ROOT_CONTEXT, sc), 'rid', viaOtel);
    const direct: Record<string, string> = {};
    p.injectUnsampled(sc.traceId, sc.spanId, 'rid', direct);
    expect(direct).toEqual(viaOtel);
  });

  it('continues an unsampled inbound trace before anything built its context', () => {
    const t = ownTracing(0);
    open.push(t);
    const server = t.startServerSpan(serverReq);
    const headers: Record<string, string> = {};
    const client = t.startClientSpan({
      method: 'GET',
      url: 'http://reviews:9080/',
      headers,
      parent: server.context,
    });
    const traceId = trace.getSpanContext(server.context.trace)!.traceId;
    expect(headers['traceparent']).toBe(`00-${traceId}-${client.span!.spanContext().spanId}-00`);
    expect(client.span!.spanContext().spanId).not.toBe(trace.getSpanContext(server.context.trace)!.spanId);
    expect(client.requestId).toBe(server.requestId);
  });

  it('starts a new trace per call outside any request, sampled at the client percentage', () => {
    const at = (percent: number) => {
      const t = ownTracing(percent);
      open.push(t);
      const headers: Record<string, string> = {};
      t.startClientSpan({ method: 'GET', url: 'http://reviews:9080/', headers }).end({ status: 200 });
      return headers;
    };
    const off = at(0);
    expect(off['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(off['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(at(100)['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(at(0)['x-b3-traceid']).not.toBe(off['x-b3-traceid']);
  });
});
