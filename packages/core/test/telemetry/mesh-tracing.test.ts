import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { applicableTelemetries } from '../../src/telemetry/config/telemetry-scope.js';
import { resolveTracing } from '../../src/telemetry/config/tracing-config.js';
import { createMeshTracing, type MeshTracing } from '../../src/telemetry/tracing/mesh-tracing.js';
import { currentContext } from '../../src/telemetry/tracing/request-context.js';
import { globalTracerProviderRegistered } from '../../src/telemetry/tracing/tracer-provider.js';
import { PRODUCTPAGE, REVIEWS_V2, snapshotOf } from './helpers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const mesh = (over: Partial<MeshConfig> = {}): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...over });

const open: MeshTracing[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.shutdown()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function tracingWith(percent: number, exporter = new InMemorySpanExporter(), workload = PRODUCTPAGE) {
  const t = createMeshTracing({
    workload,
    meshConfig: mesh({ tracingSampling: percent }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
  });
  open.push(t);
  return { t, exporter };
}

describe('istio.mesh_id', () => {
  it('is meshConfig defaultConfig.meshId (the proxy MESH_ID), else the trust domain', () => {
    const exporter = new InMemorySpanExporter();
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: mesh({ tracingSampling: 100, defaultConfig: { meshId: 'mesh1' } }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      otlp: false,
      env: {},
    });
    open.push(t);
    t.startServerSpan({
      method: 'GET',
      url: '/',
      scheme: 'http',
      authority: 'a:9080',
      port: 9080,
      headers: {},
    }).end({
      status: 200,
    });
    expect(exporter.getFinishedSpans()[0]?.attributes['istio.mesh_id']).toBe('mesh1');
  });
});

describe('createMeshTracing spans', () => {
  const serverReq = (headers: Record<string, string> = {}) => ({
    method: 'GET',
    url: '/reviews/0?u=1',
    scheme: 'http' as const,
    authority: 'reviews:9080',
    port: 9080,
    headers: { 'user-agent': 'curl/8', ...headers },
    peerAddress: '10.0.0.7',
  });

  it('records a SERVER span with semconv and Istio attributes, error only for 5xx', () => {
    const { t, exporter } = tracingWith(100, undefined, REVIEWS_V2);
    const s404 = t.startServerSpan(serverReq({ 'x-request-id': 'rid-9' }));
    s404.end({ status: 404, route: '/reviews/:id' });
    t.startServerSpan(serverReq()).end({ status: 503, flags: ['UO'] });
    const [a, b] = exporter.getFinishedSpans();
    expect(a!.kind).toBe(SpanKind.SERVER);
    // Envoy's operation (the inbound route's decorator), not the framework route.
    expect(a!.name).toBe('reviews.default.svc.cluster.local:9080/*');
    expect(a!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/reviews/0',
      'url.query': 'u=1',
      'url.scheme': 'http',
      'server.address': 'reviews',
      'server.port': 9080,
      'http.response.status_code': 404,
      'http.route': '/reviews/:id',
      'user_agent.original': 'curl/8',
      'network.peer.address': '10.0.0.7',
      'istio.canonical_service': 'reviews',
      'istio.canonical_revision': 'v2',
      'istio.namespace': 'default',
      'istio.mesh_id': 'cluster.local',
      'guid:x-request-id': 'rid-9',
      response_flags: '-',
    });
    expect(a!.status.code).toBe(SpanStatusCode.UNSET);
    expect([b!.status.code, b!.attributes['error.type'], b!.attributes['response_flags']]).toEqual([
      SpanStatusCode.ERROR,
      '503',
      'UO',
    ]);
  });

  it('continues the trace and x-request-id into a CLIENT span made inside the handler, with attempts as events', async () => {
    const { t, exporter } = tracingWith(100);
    const server = t.startServerSpan(
      serverReq({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, 'x-request-id': 'rid-1' }),
    );
    const headers: Record<string, string> = {};
    await server.run(async () => {
      await Promise.resolve();
      expect(currentContext()?.requestId).toBe('rid-1');
      const client = t.startClientSpan({
        method: 'GET',
        url: 'http://ratings:9080/ratings/0',
        headers,
        upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local',
      });
      client.attempt({ attempt: 1, upstreamAddress: '10.0.0.9:9080', status: 503, flags: ['UF'] });
      client.attempt({ attempt: 2, upstreamAddress: '10.0.0.8:9080', status: 404 });
      client.end({ status: 404, attempts: 2, upstreamAddress: '10.0.0.8:9080' });
    });
    server.end({ status: 200 });
    const [client, srv] = exporter.getFinishedSpans() as [ReadableSpan, ReadableSpan];
    expect(client.spanContext().traceId).toBe(TRACE_ID);
    expect(srv.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(client.parentSpanContext?.spanId).toBe(srv.spanContext().spanId);
    expect(headers['traceparent']).toBe(`00-${TRACE_ID}-${client.spanContext().spanId}-01`);
    expect(headers['x-b3-spanid']).toBe(client.spanContext().spanId);
    expect(headers['x-request-id']).toBe('rid-1');
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(client.attributes).toMatchObject({
      'url.full': 'http://ratings:9080/ratings/0',
      'server.address': 'ratings',
      'server.port': 9080,
      'http.response.status_code': 404,
      'http.request.resend_count': 1,
      upstream_cluster: 'outbound|9080||ratings.default.svc.cluster.local',
      upstream_address: '10.0.0.8:9080',
    });
    // A 4xx is an error on the client side (semconv), unlike on the server; Envoy's own
    // `error` tag marks only 5xx and no response.
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
    expect(client.attributes['error']).toBeUndefined();
    expect(
      client.events.map((e) => [e.name, e.attributes?.['meshlet.attempt'], e.attributes?.['response_flags']]),
    ).toEqual([
      ['meshlet.attempt', 1, 'UF'],
      ['meshlet.attempt', 2, '-'],
    ]);
  });

  it('builds no span data when not sampled but still propagates the decision and request id', () => {
    const { t, exporter } = tracingWith(0);
    const server = t.startServerSpan(serverReq());
    expect(server.span!.isRecording()).toBe(false);
    const headers: Record<string, string> = {};
    server.run(() =>
      t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers }).end({ status: 200 }),
    );
    server.end({ status: 200 });
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(headers['x-b3-sampled']).toBe('0');
    expect(headers['x-request-id']).toBe(server.requestId);
  });

  it("uses the application's TracerProvider when given, and OTEL_TRACES_SAMPLER over the mesh percentage", () => {
    const appExporter = new InMemorySpanExporter();
    const app = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appExporter)] });
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: mesh({ tracingSampling: 0 }),
      tracerProvider: app,
    });
    expect(t.ownsProvider).toBe(false);
    t.startServerSpan(serverReq()).end({ status: 200 });
    expect(appExporter.getFinishedSpans()).toHaveLength(1);

    const exporter = new InMemorySpanExporter();
    const t2 = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: mesh({ tracingSampling: 0 }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      env: { OTEL_TRACES_SAMPLER: 'always_on' },
    });
    open.push(t2);
    t2.startServerSpan(serverReq()).end({ status: 200 });
    expect(exporter.getFinishedSpans()).toHaveLength(1);
  });

  it('detects a globally registered application provider and uses it', () => {
    expect(globalTracerProviderRegistered()).toBe(false);
    const appExporter = new InMemorySpanExporter();
    const app = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(appExporter)] });
    trace.setGlobalTracerProvider(app);
    try {
      expect(globalTracerProviderRegistered()).toBe(true);
      const t = createMeshTracing({ workload: PRODUCTPAGE, meshConfig: mesh(), env: {} });
      expect(t.ownsProvider).toBe(false);
      t.startClientSpan({ method: 'GET', url: 'http://ratings:9080/', headers: {} }).end({ status: 200 });
      expect(appExporter.getFinishedSpans().map((s) => s.kind)).toEqual([SpanKind.CLIENT]);
    } finally {
      trace.disable();
    }
  });

  it('adds Telemetry customTags from literals, headers and the environment', () => {
    const exporter = new InMemorySpanExporter();
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: mesh({ tracingSampling: 100 }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      env: { CLUSTER_NAME: 'east' },
      tracing: resolveTracing(
        applicableTelemetries(
          snapshotOf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh, namespace: istio-system }
spec:
  tracing:
  - customTags:
      team: { literal: { value: bookinfo } }
      tenant: { header: { name: X-Tenant, defaultValue: none } }
      cluster: { environment: { name: CLUSTER_NAME } }
`),
          PRODUCTPAGE,
        ),
        mesh({ tracingSampling: 100 }),
      ),
    });
    open.push(t);
    t.startServerSpan(serverReq({ 'x-tenant': 'acme' })).end({ status: 200 });
    t.startServerSpan(serverReq()).end({ status: 200 });
    const [a, b] = exporter.getFinishedSpans();
    expect([a!.attributes['team'], a!.attributes['tenant'], a!.attributes['cluster']]).toEqual([
      'bookinfo',
      'acme',
      'east',
    ]);
    expect(b!.attributes['tenant']).toBe('none');
  });

  it('exports over OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', async () => {
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${b}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    servers.push(collector);
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const { port } = collector.address() as AddressInfo;
    const t = createMeshTracing({
      workload: PRODUCTPAGE,
      meshConfig: mesh({ tracingSampling: 100 }),
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` },
    });
    open.push(t);
    t.startServerSpan(serverReq()).end({ status: 200 });
    await t.forceFlush();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatch(/^POST \/v1\/traces /);
    expect(bodies[0]).toContain('productpage.default');
  });
});

describe('a trace across three services on loopback', () => {
  it('links productpage → reviews → ratings under one trace id with one x-request-id', async () => {
    const exporter = new InMemorySpanExporter();
    const seen: Record<string, string | undefined> = {};
    const make = async (name: string, workload: typeof PRODUCTPAGE, next: string | null) => {
      const t = createMeshTracing({
        workload,
        meshConfig: mesh({ tracingSampling: 100 }),
        spanProcessors: [new SimpleSpanProcessor(exporter)],
        otlp: false,
        env: {},
      });
      open.push(t);
      const server = createServer((req: IncomingMessage, res) => {
        const span = t.startServerSpan({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          scheme: 'http',
          authority: req.headers.host ?? '',
          port: req.socket.localPort ?? 0,
          headers: req.headers,
          peerAddress: req.socket.remoteAddress ?? null,
        });
        seen[name] = req.headers['x-request-id'] as string | undefined;
        void span.run(async () => {
          let status = 200;
          if (next !== null) {
            const headers: Record<string, string> = {};
            const url = `${next}/call`;
            const c = t.startClientSpan({ method: 'GET', url, headers });
            const r = await fetch(url, { headers });
            await r.text();
            c.end({ status: r.status, attempts: 1 });
            status = r.status;
          }
          // End the span before answering, so every span is finished when the caller's fetch resolves.
          span.end({ status });
          res.writeHead(status).end(name);
        });
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const ratings = await make(
      'ratings',
      { ...REVIEWS_V2, name: 'ratings-v1', labels: { app: 'ratings', version: 'v1' } },
      null,
    );
    const reviews = await make('reviews', REVIEWS_V2, ratings);
    const productpage = await make('productpage', PRODUCTPAGE, reviews);
    const res = await fetch(`${productpage}/productpage`, { headers: { 'x-request-id': 'edge-1' } });
    expect(await res.text()).toBe('productpage');
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(5);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const byKind = (svc: string, kind: SpanKind) =>
      spans.find((s) => s.attributes['istio.canonical_service'] === svc && s.kind === kind)!;
    expect(byKind('reviews', SpanKind.SERVER).parentSpanContext?.spanId).toBe(
      byKind('productpage', SpanKind.CLIENT).spanContext().spanId,
    );
    expect(byKind('ratings', SpanKind.SERVER).parentSpanContext?.spanId).toBe(
      byKind('reviews', SpanKind.CLIENT).spanContext().spanId,
    );
    expect(byKind('productpage', SpanKind.CLIENT).parentSpanContext?.spanId).toBe(
      byKind('productpage', SpanKind.SERVER).spanContext().spanId,
    );
    expect(seen).toEqual({ productpage: 'edge-1', reviews: 'edge-1', ratings: 'edge-1' });
  });
});
