import { once } from 'node:events';
import { Readable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { SpanKind, trace, ROOT_CONTEXT, TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { DEFAULT_MESH_CONFIG } from '../../src/config/mesh-config.js';
import { createOutboundClient } from '../../src/outbound/client.js';
import type { TransportRequest } from '../../src/outbound/transport.js';
import { createMemoryTransport, type MemoryHandler } from '../../src/outbound/transports/memory-transport.js';
import { createClusterManager } from '../../src/outbound/upstream/cluster-manager.js';
import { createManualClock, type ManualClock } from '../../src/runtime/clock.js';
import { seededRandom } from '../../src/runtime/random.js';
import { createMeshTelemetry, type MeshTelemetry } from '../../src/telemetry/mesh-telemetry.js';
import { runWithInboundContext } from '../../src/telemetry/tracing/request-context.js';
import { PRODUCTPAGE, snapshotOf } from './helpers.js';
import { samples } from './metrics-support.js';
import { lineCollector } from '../helpers/line-collector.js';

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /reviews } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    retries: { attempts: 2, retryOn: 5xx }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v2, labels: { version: v2 } }]
`;
const ENDPOINT = '10.0.1.2:9080';
const CLUSTER = 'outbound|9080|v2|reviews.default.svc.cluster.local';

const open: MeshTelemetry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function setup(
  handler: MemoryHandler,
  opts: { telemetry?: boolean; sampling?: number; yaml?: string; config?: string } = {},
) {
  const config = opts.config ?? CONFIG;
  const snap = snapshotOf(opts.yaml === undefined ? config : `${config}\n---\n${opts.yaml}`);
  const plan = compilePlan(snap, PRODUCTPAGE, {
    endpoints: {
      reviews: [
        {
          address: '10.0.1.2',
          port: 9080,
          labels: { app: 'reviews', version: 'v2' },
          serviceAccount: 'bookinfo-reviews',
        },
      ],
    },
  });
  const clock: ManualClock = createManualClock(1_000_000);
  const exporter = new InMemorySpanExporter();
  const lines: string[] = [];
  const telemetry = createMeshTelemetry({
    workload: PRODUCTPAGE,
    snapshot: snap,
    meshConfig: {
      ...DEFAULT_MESH_CONFIG,
      accessLogFile: '/dev/stdout',
      tracingSampling: opts.sampling ?? 100,
    },
    registry: new Registry(),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    otlp: false,
    env: {},
    clock,
    accessLogSink: {
      stream: lineCollector(lines),
    },
  });
  open.push(telemetry);
  const seen: TransportRequest[] = [];
  const transport = createMemoryTransport({
    [ENDPOINT]: (req) => {
      seen.push(req);
      return handler(req);
    },
  });
  const client = createOutboundClient({
    getPlan: () => plan,
    clusters: createClusterManager({ clock, random: seededRandom(1), onEvent: telemetry.onUpstreamEvent }),
    transport,
    clock,
    random: seededRandom(1),
    ...(opts.telemetry === false ? {} : { telemetry }),
  });
  return { client, telemetry, exporter, seen, clock, lines, transport };
}

/** Runs `p` while moving the manual clock (retry backoff sleeps on it). */
async function driven<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 1000 && !done; i++) await clock.advance(1);
  return p;
}

describe('createOutboundClient with telemetry', () => {
  it('builds nothing and injects no trace header when the client has no telemetry', async () => {
    const { client, telemetry, exporter, seen } = setup(() => ({ status: 200, body: 'ok' }), {
      telemetry: false,
    });
    const res = await client.fetch('http://reviews:9080/reviews/1');
    await res.text();
    expect(seen[0]!.headers['traceparent']).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(await samples(telemetry.registry, 'istio_requests_total')).toEqual([]);
  });

  it('records a CLIENT span with one event per attempt and injects W3C, B3 and x-request-id', async () => {
    let n = 0;
    const { client, exporter, seen, clock } = setup(() =>
      n++ === 0 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' },
    );
    const res = await driven(clock, client.fetch('http://reviews:9080/reviews/1'));
    await res.text();
    const [span] = exporter.getFinishedSpans();
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(
      span!.events.map((e) => [
        e.attributes?.['meshlet.attempt'],
        e.attributes?.['http.response.status_code'],
      ]),
    ).toEqual([
      [1, 503],
      [2, 200],
    ]);
    expect(span!.attributes).toMatchObject({
      'retry.count': 1,
      upstream_cluster: CLUSTER,
      upstream_address: ENDPOINT,
      'http.response.status_code': 200,
      response_flags: '-',
    });
    const traceId = span!.spanContext().traceId;
    for (const req of seen) {
      expect(req.headers['traceparent']).toBe(`00-${traceId}-${span!.spanContext().spanId}-01`);
      expect(req.headers['x-b3-traceid']).toBe(traceId);
      expect(req.headers['x-request-id']).toBe(span!.attributes['guid:x-request-id']);
    }
  });

  it('reports an injected abort against the cluster its route picked, as Envoy does', async () => {
    const { client, lines, telemetry, seen } = setup(() => ({ status: 200, body: 'ok' }), {
      config: CONFIG.replace(
        '    retries: { attempts: 2, retryOn: 5xx }',
        '    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }',
      ),
    });
    const res = await client.fetch('http://reviews:9080/reviews/1');
    expect([res.status, res.meshlet.flags]).toEqual([503, ['FI']]);
    await res.text();
    await telemetry.accessLog.client.flush();
    expect(seen).toHaveLength(0);
    const [sample] = await samples(telemetry.registry, 'istio_requests_total');
    expect(sample!.labels).toMatchObject({
      destination_service: 'reviews.default.svc.cluster.local',
      destination_service_namespace: 'default',
      response_flags: 'FI',
    });
    expect(lines.join('')).toContain(CLUSTER);
  });

  it('logs upstream_per_try_timeout when the last try timed out, as Envoy does', async () => {
    const { client, lines, telemetry, clock } = setup(() => new Promise(() => undefined), {
      config: CONFIG.replace(
        '    retries: { attempts: 2, retryOn: 5xx }',
        '    retries: { attempts: 1, perTryTimeout: 100ms, retryOn: 5xx }',
      ),
    });
    const res = await driven(clock, client.fetch('http://reviews:9080/reviews/1'));
    expect([res.status, res.meshlet.flags]).toEqual([504, ['UT', 'URX']]);
    await res.text();
    await telemetry.accessLog.client.flush();
    expect(lines.join('')).toContain(' UT,URX upstream_per_try_timeout ');
  });

  it('logs the upstream host a failed try went to, as Envoy records it on pool failure', async () => {
    // The handler throws: the in-memory transport reports a reset after the request was sent.
    const { client, lines, telemetry, clock } = setup(() => {
      throw new Error('boom');
    });
    const res = await driven(clock, client.fetch('http://reviews:9080/reviews/1'));
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toContain('UC');
    await res.text();
    await telemetry.accessLog.client.flush();
    expect(lines.join('')).toContain(`"${ENDPOINT}" outbound|9080|v2|`);
  });

  it('flags a body the upstream reset after the headers UC, and one the application abandoned DC', async () => {
    // Envoy: a reset after the response started is `UC` with
    // upstream_reset_after_response_started{connection_termination}; a downstream that
    // goes away mid-body is `DC`.
    const reset = setup(() => {
      const body = new Readable({ read() {} });
      body.push('partial');
      setImmediate(() => body.destroy(new Error('socket hang up')));
      return { status: 200, body };
    });
    const r1 = await reset.client.fetch('http://reviews:9080/reviews/1');
    await expect(r1.text()).rejects.toThrow();
    await reset.telemetry.accessLog.client.flush();
    expect(reset.lines.join('')).toContain(
      '" 200 UC upstream_reset_after_response_started{connection_termination} ',
    );
    const [row] = await samples(reset.telemetry.registry, 'istio_requests_total');
    expect(row!.labels['response_flags']).toBe('UC');

    const abandoned = setup(() => ({ status: 200, body: new Readable({ read() {} }) }));
    const r2 = await abandoned.client.fetch('http://reviews:9080/reviews/1');
    const closed = once(r2.body, 'close');
    r2.body.destroy();
    await closed;
    await abandoned.telemetry.accessLog.client.flush();
    expect(abandoned.lines.join('')).toContain('" 200 DC via_upstream ');
  });

  it('reports a response without a body (HEAD, 204, content-length 0) that the application never reads', async () => {
    for (const [method, reply] of [
      ['HEAD', { status: 200, headers: { 'content-length': '12' } }],
      ['GET', { status: 204 }],
      ['GET', { status: 200, headers: { 'content-length': '0' } }],
    ] as const) {
      const { client, telemetry } = setup(() => reply);
      const res = await client.fetch('http://reviews:9080/reviews/1', { method });
      expect(res.status).toBe(reply.status);
      const [row] = await samples(telemetry.registry, 'istio_requests_total');
      expect(row?.labels['response_code']).toBe(String(reply.status));
    }
  });

  it('continues the inbound trace and x-request-id of the current request context', async () => {
    const { client, exporter, seen } = setup(() => ({ status: 200, body: 'ok' }));
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    await runWithInboundContext({ trace: parent, requestId: 'rid-42' }, async () => {
      const res = await client.fetch('http://reviews:9080/reviews/1');
      await res.text();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(seen[0]!.headers['x-request-id']).toBe('rid-42');
  });

  it('records istio_* only when the streamed body is done, with its duration and bytes', async () => {
    const body = 'x'.repeat(1000);
    const { client, telemetry, clock } = setup(() => ({ status: 200, body }));
    const res = await client.fetch('http://reviews:9080/reviews/1');
    await clock.advance(30);
    expect(await samples(telemetry.registry, 'istio_requests_total')).toEqual([]);
    expect(await res.text()).toBe(body);
    const [count] = await samples(telemetry.registry, 'istio_requests_total');
    expect(count!.value).toBe(1);
    expect(count!.labels).toMatchObject({
      reporter: 'source',
      destination_version: 'v2',
      destination_service: 'reviews.default.svc.cluster.local',
      response_code: '200',
    });
    const [duration] = await samples(telemetry.registry, 'istio_request_duration_milliseconds_sum');
    expect(duration!.value).toBe(30);
    const [bytes] = await samples(telemetry.registry, 'istio_response_bytes_sum');
    expect(bytes!.value).toBeGreaterThan(1000);
    expect(bytes!.value).toBeLessThan(1100);
  });

  it('counts the request bytes the application sent, not the headers the mesh adds', async () => {
    const { client, telemetry, seen } = setup(() => ({ status: 200, body: 'ok' }));
    await (
      await client.fetch('http://reviews:9080/reviews/1', { headers: { 'x-app': 'abc' }, body: 'hello' })
    ).text();
    // Trace headers, x-request-id and x-envoy-attempt-count went out...
    expect(Object.keys(seen[0]!.headers)).toEqual(
      expect.arrayContaining(['traceparent', 'x-request-id', 'x-envoy-attempt-count']),
    );
    // ...but the downstream request was `GET /reviews/1 HTTP/1.1`, its Host, its own headers
    // and its body.
    const sent = await client.fetch('http://reviews:9080/reviews/1', { headers: { 'x-app': 'abc' } });
    await sent.text();
    const [bytes] = await samples(telemetry.registry, 'istio_request_bytes_sum');
    const line = (name: string, value: string) => name.length + value.length + 4;
    const head =
      'GET'.length + '/reviews/1'.length + 12 + line('host', 'reviews:9080') + line('x-app', 'abc') + 2;
    expect(bytes!.value).toBe(2 * head + 'hello'.length);
  });

  it("names a ServiceEntry endpoint's workload as istiod does when the upstream sends no peer metadata", async () => {
    // serviceentry/conversion.go convertServiceEntryToInstances: an inline endpoint is the
    // workload `<entry>-<index>`, which the endpoint's istio.workload metadata carries and
    // the stats filter falls back to without a metadata exchange.
    const { client, telemetry } = setup(() => ({ status: 200, body: 'ok' }), {
      yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payments, namespace: default }
spec:
  hosts: [payments.internal]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 10.0.1.2, labels: { version: v3 } }]
`,
    });
    await (await client.fetch('http://payments.internal:9080/pay')).text();
    const [row] = await samples(telemetry.registry, 'istio_requests_total');
    expect(row!.labels).toMatchObject({
      destination_service: 'payments.internal',
      destination_workload: 'payments-0',
      destination_canonical_service: 'payments-0',
      destination_version: 'v3',
      destination_canonical_revision: 'v3',
    });
  });

  it('reports a local 404 NR, with its access log line', async () => {
    const { client, telemetry, lines } = setup(() => ({ status: 200 }));
    const res = await client.fetch('http://reviews:9080/other');
    expect(res.status).toBe(404);
    await telemetry.accessLog.client.flush();
    const [row] = await samples(telemetry.registry, 'istio_requests_total');
    expect(row!.labels).toMatchObject({
      response_code: '404',
      response_flags: 'NR',
      destination_workload: 'unknown',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/"GET \/other HTTP\/1\.1" 404 NR route_not_found /);
  });

  // No cluster, so Istio labels the service with the Host header as sent, port included
  // (istio_stats.cc; testdata/metric/host_header_fallback.yaml.tmpl). Pending call-observer.ts
  // passing the Host header rather than `target.hostname`; drop `.fails` once it does.
  it('labels a local 404 NR with the raw Host header', async () => {
    const { client, telemetry } = setup(() => ({ status: 200 }));
    expect((await client.fetch('http://reviews:9080/other')).status).toBe(404);
    const [row] = await samples(telemetry.registry, 'istio_requests_total');
    expect(row!.labels).toMatchObject({
      destination_service: 'reviews:9080',
      destination_service_name: 'reviews:9080',
      destination_service_namespace: 'unknown',
    });
  });

  it("logs Envoy's route name: http[].name, then .match[].name, '-' for an unnamed rule", async () => {
    // istio route.go translateRoute: Name = http.name (+ "." + match.name).
    const named = CONFIG.replace(
      '  - match: [{ uri: { prefix: /reviews } }]',
      '  - name: reviews-v2\n    match: [{ name: by-prefix, uri: { prefix: /reviews } }, { name: by-api, uri: { prefix: /api } }]\n    route: [{ destination: { host: reviews, subset: v2 } }]\n  - match: [{ uri: { prefix: /unnamed } }]',
    );
    const { client, telemetry, lines } = setup(() => ({ status: 200 }), { config: named });
    for (const path of ['/reviews/1', '/api/1', '/unnamed'])
      await (await client.fetch(`http://reviews:9080${path}`)).text();
    await telemetry.accessLog.client.flush();
    expect(lines).toHaveLength(3);
    // Istio's TEXT format ends with %ROUTE_NAME%.
    expect(lines.map((l) => l.split(' ').at(-1))).toEqual(['reviews-v2.by-prefix', 'reviews-v2.by-api', '-']);
  });

  it('logs a refused connect as Envoy does: remote_connection_failure and the errno as transport failure reason', async () => {
    const { client, telemetry, lines, transport, clock } = setup(() => ({ status: 200 }));
    await transport.close();
    // The route retries twice (backoff on the manual clock).
    const res = await driven(clock, client.fetch('http://reviews:9080/reviews/1'));
    expect(res.status).toBe(503);
    await telemetry.accessLog.client.flush();
    const errno = osConstants.errno.ECONNREFUSED;
    // Istio's TEXT format: ... %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" ...
    // The formatter prints the failure reason's spaces as `_` (envoy stream_info_formatter.cc).
    expect(lines.at(-1)).toContain(
      ` 503 UF,URX upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_${errno}} - "delayed_connect_error:_${errno}" `,
    );
  });

  it('reports status 0 with DC when the caller aborts the call', async () => {
    const { client, telemetry, clock } = setup(async () => {
      await clock.sleep(1000);
      return { status: 200 };
    });
    const ctl = new AbortController();
    const p = client.fetch('http://reviews:9080/reviews/1', { signal: ctl.signal });
    await clock.advance(5);
    ctl.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    const [row] = await samples(telemetry.registry, 'istio_requests_total');
    expect(row!.labels).toMatchObject({ response_code: '0', response_flags: 'DC' });
  });

  it('evaluates Telemetry formatter custom tags at span end, with the response known', async () => {
    const { client, exporter, clock } = setup(() => ({ status: 201, body: 'made' }), {
      yaml: `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: tags, namespace: default }
spec:
  selector: { matchLabels: { app: productpage } }
  tracing:
  - customTags:
      upstream: { formatter: { value: "%UPSTREAM_HOST%" } }
      outcome: { formatter: { value: "%RESPONSE_CODE% %REQ(:METHOD)%" } }
      team: { literal: { value: bookinfo } }
`,
    });
    const res = await driven(
      clock,
      client.fetch('http://reviews:9080/reviews/1', { method: 'POST', body: 'x' }),
    );
    await res.text();
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes).toMatchObject({
      upstream: ENDPOINT,
      outcome: '201 POST',
      team: 'bookinfo',
    });
  });

  it('propagates headers but records no span when sampled out', async () => {
    const { client, exporter, seen } = setup(() => ({ status: 200 }), { sampling: 0 });
    await (await client.fetch('http://reviews:9080/reviews/1')).text();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(seen[0]!.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });
});
