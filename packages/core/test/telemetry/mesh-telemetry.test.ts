import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../src/config/mesh-config.js';
import { createInboundObserver } from '../../src/inbound/node-observe.js';
import { nodeConnectionOf, toInboundRequest } from '../../src/inbound/node-request.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { currentContext } from '../../src/telemetry/tracing/request-context.js';
import { REVIEWS_V2, snapshotOf } from './helpers.js';
import { samples } from './metrics-support.js';
import { lineCollector } from '../helpers/line-collector.js';
import { ALLOW_PRODUCTPAGE, PRODUCTPAGE_PEER } from './helpers.js';

const open: MeshTelemetry[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function bundle(
  yaml: string,
  mesh: Partial<MeshConfig> = {},
  lines: string[] = [],
  exporter?: InMemorySpanExporter,
) {
  const snap = snapshotOf(yaml);
  const t = createMeshTelemetry({
    workload: REVIEWS_V2,
    snapshot: snap,
    meshConfig: { ...DEFAULT_MESH_CONFIG, ...mesh },
    registry: new Registry(),
    otlp: false,
    env: {},
    accessLogSink: { stream: lineCollector(lines) },
    ...(exporter === undefined ? {} : { spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  });
  open.push(t);
  return t;
}

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: default }\n';

/** The namespace and a mesh-wide Telemetry sampling every trace, with `more` fields in its tracing entry. */
const everyTrace = (more = '') => `${NS}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 100
${more}`;

describe('createMeshTelemetry', () => {
  it('turns access logs on per direction from a Telemetry accessLogging match.mode', () => {
    const t = bundle(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: server-logs, namespace: default }
spec:
  accessLogging:
  - providers: [{ name: envoy }]
    match: { mode: SERVER }
`);
    expect([t.accessLog.client.enabled, t.accessLog.server.enabled]).toEqual([false, true]);
  });

  it('uses meshConfig accessLogFile for both directions when no Telemetry configures logging', () => {
    const off = bundle(NS);
    expect([off.accessLog.client.enabled, off.accessLog.server.enabled]).toEqual([false, false]);
    const on = bundle(NS, { accessLogFile: '/dev/stdout' });
    expect([on.accessLog.client.enabled, on.accessLog.server.enabled]).toEqual([true, true]);
    // One spec, one log: both directions write through the same sink.
    expect(on.accessLog.client).toBe(on.accessLog.server);
  });

  it('samples from Telemetry randomSamplingPercentage over meshConfig', () => {
    const t = bundle(
      `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 25
`,
      { tracingSampling: 80 },
    );
    expect(t.tracing.config.client.samplingPercent).toBe(25);
    expect(bundle(NS, { tracingSampling: 80 }).tracing.config.server.samplingPercent).toBe(80);
  });

  it('turns cluster manager events into overflow, ejection and ejected-endpoint metrics', async () => {
    const t = bundle(NS);
    const cluster = 'outbound|9080|v1|reviews.default.svc.cluster.local';
    t.onUpstreamEvent({ type: 'overflow', cluster, reason: 'pending-overflow' });
    t.onUpstreamEvent({ type: 'overflow', cluster, reason: 'retry' });
    for (const host of ['10.0.0.1:9080', '10.0.0.2:9080'])
      t.onUpstreamEvent({
        type: 'eject',
        cluster,
        host,
        cause: 'consecutive-5xx',
        durationMs: 30_000,
        ejections: 1,
        at: 0,
      });
    t.onUpstreamEvent({ type: 'uneject', cluster, host: '10.0.0.1:9080', at: 30_000 });
    const value = async (name: string) =>
      (await samples(t.registry, name)).map((s) => [s.labels['cluster'], s.value]);
    expect(await value('meshlet_upstream_rq_pending_overflow_total')).toEqual([[cluster, 1]]);
    expect(await value('meshlet_upstream_rq_retry_overflow_total')).toEqual([[cluster, 1]]);
    expect(await value('meshlet_outlier_ejections_total')).toEqual([[cluster, 2]]);
    expect(await value('meshlet_outlier_ejected_endpoints')).toEqual([[cluster, 1]]);
  });
});

describe('createInboundObserver', () => {
  async function serve(t: MeshTelemetry, seen: { requestId?: string; traced?: string }) {
    const observe = createInboundObserver(t);
    const server = createServer((req, res) => {
      const inbound = toInboundRequest(req, nodeConnectionOf(req.socket, PRODUCTPAGE_PEER));
      const o = observe(req, res, inbound);
      o.decided(ALLOW_PRODUCTPAGE);
      o.run(() => {
        seen.requestId = req.headers['x-request-id'] as string;
        setImmediate(() => {
          seen.traced = currentContext()?.requestId ?? undefined;
          res.end('hello');
        });
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  const get = (port: number, headers: Record<string, string> = {}) =>
    new Promise<void>((resolve, reject) => {
      const r = request(
        { host: '127.0.0.1', port, path: '/reviews/1', headers: { host: 'reviews:9080', ...headers } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      r.on('error', reject);
      r.end();
    });

  it('labels an mTLS peer as the source and reports connection_security_policy mutual_tls', async () => {
    const t = bundle(NS);
    const port = await serve(t, {});
    await get(port);
    await new Promise((r) => setImmediate(r));
    const [row] = await samples(t.registry, 'istio_requests_total');
    expect(row!.labels).toMatchObject({
      reporter: 'destination',
      source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
      source_workload_namespace: 'default',
      destination_workload: 'reviews-v2',
      destination_service: 'reviews.default.svc.cluster.local',
      connection_security_policy: 'mutual_tls',
      response_code: '200',
    });
    const [bytes] = await samples(t.registry, 'istio_response_bytes_sum');
    // The status line, node's default headers and the 5-byte body, as written to the socket.
    expect(bytes!.value).toBeGreaterThan(60);
  });

  it('generates x-request-id for the handler and keeps the context across async turns', async () => {
    const seen: { requestId?: string; traced?: string } = {};
    const port = await serve(bundle(NS), seen);
    await get(port);
    expect(seen.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.traced).toBe(seen.requestId);
  });

  it('runs the handler outside any request context with requestContext: false, x-request-id still set', async () => {
    const t = createMeshTelemetry({
      workload: REVIEWS_V2,
      snapshot: snapshotOf(NS),
      meshConfig: DEFAULT_MESH_CONFIG,
      registry: new Registry(),
      otlp: false,
      env: {},
      requestContext: false,
    });
    open.push(t);
    expect(t.requestContext).toBe(false);
    const seen: { requestId?: string; traced?: string } = {};
    const port = await serve(t, seen);
    await get(port);
    expect(seen.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.traced).toBeUndefined();
  });

  it("hands the application a sampled request's x-request-id with Envoy's trace mark, and leaves istio.* tags off when enableIstioTags is false", async () => {
    const exporter = new InMemorySpanExporter();
    const t = bundle(
      everyTrace(`    enableIstioTags: false
    customTags:
      route: { formatter: { value: "%REQ(:PATH)% -> %RESPONSE_CODE% %RESPONSE_FLAGS%" } }
`),
      {},
      [],
      exporter,
    );
    const seen: { requestId?: string; traced?: string } = {};
    const port = await serve(t, seen);
    await get(port, { 'x-request-id': '0badc0de-1111-4222-8333-444455556666' });
    expect(seen.requestId).toBe('0badc0de-1111-b222-8333-444455556666');
    expect(seen.traced).toBe('0badc0de-1111-b222-8333-444455556666');
    await new Promise((r) => setImmediate(r));
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes['guid:x-request-id']).toBe('0badc0de-1111-b222-8333-444455556666');
    expect(span!.attributes['istio.canonical_service']).toBeUndefined();
    // A formatter custom tag is evaluated when the span ends, with the response known.
    expect(span!.attributes['route']).toBe('/reviews/1 -> 200 -');
    expect(span!.attributes['http.request.method']).toBe('GET');
  });

  it('generates no x-request-id with proxyHeaders.requestId disabled, and starts no trace without one', async () => {
    // generate_request_id: false (istio proxy_headers.go). With no id, Envoy's connection
    // manager leaves the request NotTraceable when sampling follows the id
    // (conn_manager_utility.cc mutateTracingRequestHeader), even at 100 %.
    const exporter = new InMemorySpanExporter();
    const t = bundle(
      everyTrace(),
      { proxyHeaders: { ...DEFAULT_MESH_CONFIG.proxyHeaders, requestId: false } },
      [],
      exporter,
    );
    const seen: { requestId?: string; traced?: string } = {};
    const port = await serve(t, seen);
    await get(port);
    expect(seen.requestId).toBeUndefined();
    expect(seen.traced).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    // An id the caller sent is kept, and decides sampling as before.
    await get(port, { 'x-request-id': '0badc0de-1111-4222-8333-444455556666' });
    expect(seen.requestId).toBe('0badc0de-1111-b222-8333-444455556666');
    await new Promise((r) => setImmediate(r));
    expect(exporter.getFinishedSpans()).toHaveLength(1);

    // A sampled parent is still followed without an id.
    await get(port, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    await new Promise((r) => setImmediate(r));
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    expect(spans[1]!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(spans[1]!.attributes['guid:x-request-id']).toBeUndefined();
    expect(seen.requestId).toBeUndefined();
  });

  it('continues an incoming W3C trace on the SERVER span', async () => {
    const exporter = new InMemorySpanExporter();
    const t = bundle(NS, { tracingSampling: 0 }, [], exporter);
    const port = await serve(t, {});
    await get(port, {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-request-id': 'rid-7',
    });
    await new Promise((r) => setImmediate(r));
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.attributes['guid:x-request-id']).toBe('rid-7');
  });

  it('reload rebuilds only the parts whose resolved config changed, and a same-config reload keeps all', () => {
    const tracingYaml = (pct: number) =>
      `${NS}---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: t, namespace: istio-system }\nspec:\n  tracing:\n  - randomSamplingPercentage: ${pct}\n`;
    const t = bundle(tracingYaml(5));
    const { metrics, tracing, accessLog } = t;
    t.reload(snapshotOf(tracingYaml(5)));
    expect([t.metrics, t.tracing, t.accessLog]).toEqual([metrics, tracing, accessLog]);
    expect(t.tracing).toBe(tracing);
    t.reload(snapshotOf(tracingYaml(50)));
    expect(t.tracing).not.toBe(tracing);
    expect(t.tracing.config.server.samplingPercent).toBe(50);
    expect(t.metrics).toBe(metrics);
    expect(t.accessLog).toBe(accessLog);
  });
});
