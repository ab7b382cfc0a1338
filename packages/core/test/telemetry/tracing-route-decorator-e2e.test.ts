import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/compile/workload.js';
import { createMesh, type Mesh } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { useTmpDir } from '../helpers/tmp.js';
import { PRODUCTPAGE, REVIEWS_V2 } from './helpers.js';
import { listenLikeAdapters, type Handler } from './mesh-app.js';

// Two meshlet services on loopback, productpage calling reviews through a VirtualService.
// istiod gives each Envoy route it builds from a rule's match the decorator operation
// `<destination host>:<port><path>`, the path being the match's `<prefix>*`, exact path or
// regex, `/*` without a uri match, and `<VirtualService name>:<listener port><path>` when
// the rule has several destinations (pilot/pkg/networking/core/route/route.go
// TranslateRoute, GetRouteOperation). Envoy names the egress span after the route's
// decorator (source/common/router/config_impl.cc DecoratorImpl::apply). Its Zipkin tracer
// writes the B3 headers of the egress span with `x-b3-parentspanid`, the span it continued
// (source/extensions/tracers/zipkin/zipkin_tracer_impl.cc ZipkinSpan::injectContext).

const tmp = useTmpDir();
const cleanup = useCleanup();

const EVERY_TRACE = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 100
---
`;

const REVIEWS = 'reviews.default.svc.cluster.local';

function productpageConfig(reviewsPort: number): string {
  return `${EVERY_TRACE}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [${REVIEWS}]
  ports: [{ number: ${reviewsPort}, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 127.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-route, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { exact: /exact } }]
    route: [{ destination: { host: reviews } }]
  - match: [{ uri: { prefix: /api/ } }, { uri: { regex: '/re/[0-9]+' } }]
    route: [{ destination: { host: reviews } }]
  - match: [{ uri: { prefix: /split } }]
    route:
    - { destination: { host: reviews }, weight: 50 }
    - { destination: { host: reviews }, weight: 50 }
  - route: [{ destination: { host: reviews } }]
`;
}

/** A mesh for `workload` whose spans go to `exporter`, serving `handler` as the adapters do. */
async function tracedApp(
  workload: WorkloadIdentity,
  yaml: string,
  exporter: InMemorySpanExporter,
  handler: (mesh: Mesh) => Handler,
): Promise<{ mesh: Mesh; port: number }> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = cleanup.mesh(
    await createMesh({
      config: dir,
      workload,
      telemetry: { otlp: false, spanProcessors: [new SimpleSpanProcessor(exporter)] },
    }),
  );
  return { mesh, port: await listenLikeAdapters(mesh, handler(mesh)) };
}

const CASES = (P: number): [string, string][] => [
  ['/exact', `${REVIEWS}:${P}/exact`],
  ['/api/v1/reviews', `${REVIEWS}:${P}/api/*`],
  ['/re/42', `${REVIEWS}:${P}/re/[0-9]+`],
  ['/split/1', `reviews-route:${P}/split*`],
  ['/other', `${REVIEWS}:${P}/*`],
];

interface Run {
  readonly cases: [string, string][];
  /** The request headers reviews' application saw, per call. */
  readonly seen: IncomingHttpHeaders[];
  readonly clients: ReadableSpan[];
  /** productpage's SERVER spans, the CLIENT spans' parents. */
  readonly servers: ReadableSpan[];
  /** reviews' SERVER spans. */
  readonly upstream: ReadableSpan[];
  /** The x-envoy-decorator-operation productpage's handler got back from reviews, per call. */
  readonly answered: (string | null)[];
}

/** Calls productpage once per case; its handler calls reviews at the case's path with mesh.fetch. */
async function callThrough(): Promise<Run> {
  const seen: IncomingHttpHeaders[] = [];
  const answered: (string | null)[] = [];
  const reviewsSpans = new InMemorySpanExporter();
  const reviews = await tracedApp(REVIEWS_V2, EVERY_TRACE, reviewsSpans, () => (req, res) => {
    seen.push(req.headers);
    res.end('reviews');
  });
  const productpageSpans = new InMemorySpanExporter();
  const productpage = await tracedApp(
    PRODUCTPAGE,
    productpageConfig(reviews.port),
    productpageSpans,
    (mesh) => async (req, res) => {
      const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
      const r = await mesh.fetch(`http://${REVIEWS}:${reviews.port}${to}`);
      answered.push(r.headers.get('x-envoy-decorator-operation'));
      await r.text();
      res.writeHead(r.status).end();
    },
  );
  const cases = CASES(reviews.port);
  for (const [to] of cases) {
    const res = await fetch(`http://127.0.0.1:${productpage.port}/call?to=${encodeURIComponent(to)}`);
    expect(res.status).toBe(200);
  }
  const finished = async (e: InMemorySpanExporter, kind: SpanKind): Promise<ReadableSpan[]> => {
    await expect.poll(() => e.getFinishedSpans().filter((s) => s.kind === kind).length).toBe(cases.length);
    return e.getFinishedSpans().filter((s) => s.kind === kind);
  };
  return {
    cases,
    seen,
    answered,
    clients: await finished(productpageSpans, SpanKind.CLIENT),
    servers: await finished(productpageSpans, SpanKind.SERVER),
    upstream: await finished(reviewsSpans, SpanKind.SERVER),
  };
}

describe('outbound calls through VirtualService routes, productpage → reviews on loopback', () => {
  it("name the CLIENT span after the matched route's decorator: exact, prefix, regex, split, no match", async () => {
    const { cases, clients } = await callThrough();
    expect(clients.map((s) => s.name)).toEqual(cases.map(([, op]) => op));
  });

  it('send the B3 headers of the CLIENT span with x-b3-parentspanid, the span it continued', async () => {
    const { cases, seen, clients, servers, upstream } = await callThrough();
    expect(seen).toHaveLength(cases.length);
    for (let i = 0; i < cases.length; i++) {
      const client = clients[i]!;
      const parent = servers.find((s) => s.spanContext().spanId === client.parentSpanContext?.spanId);
      expect(parent).toBeDefined();
      // On the wire: the egress span and the one it continued, productpage's SERVER span.
      expect(seen[i]).toMatchObject({
        'x-b3-traceid': client.spanContext().traceId,
        'x-b3-spanid': client.spanContext().spanId,
        'x-b3-parentspanid': parent!.spanContext().spanId,
        'x-b3-sampled': '1',
      });
      expect(seen[i]!['x-b3-flags']).toBeUndefined();
      expect(upstream.some((s) => s.parentSpanContext?.spanId === client.spanContext().spanId)).toBe(true);
    }
  });

  it('send the operation upstream in x-envoy-decorator-operation, which names the SERVER span there and is not answered', async () => {
    const { cases, seen, upstream, answered } = await callThrough();
    // The application never sees the header: the inbound sidecar takes it off.
    expect(seen.map((h) => h['x-envoy-decorator-operation'])).toEqual(cases.map(() => undefined));
    expect(upstream.map((s) => s.name)).toEqual(cases.map(([, op]) => op));
    expect(answered).toEqual(cases.map(() => null));
  });

  it("answers the inbound route's operation to a caller that sent none", async () => {
    const reviews = await tracedApp(
      REVIEWS_V2,
      EVERY_TRACE,
      new InMemorySpanExporter(),
      () => (_req, res) => {
        res.end('reviews');
      },
    );
    const res = await fetch(`http://127.0.0.1:${reviews.port}/`);
    expect(res.headers.get('x-envoy-decorator-operation')).toBe(`${REVIEWS}:${reviews.port}/*`);
    const named = await fetch(`http://127.0.0.1:${reviews.port}/`, {
      headers: { 'x-envoy-decorator-operation': 'caller-op' },
    });
    expect(named.headers.get('x-envoy-decorator-operation')).toBeNull();
  });
});

/** A mesh for productpage whose outbound calls reach `legacy.example` (port `port`) on loopback. */
async function callerOf(port: number, telemetry: string, exporter: InMemorySpanExporter): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${telemetry}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: legacy, namespace: default }
spec:
  hosts: [legacy.example]
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1 }]
`,
  );
  return cleanup.mesh(
    await createMesh({
      config: dir,
      workload: PRODUCTPAGE,
      telemetry: { otlp: false, spanProcessors: [new SimpleSpanProcessor(exporter)] },
    }),
  );
}

// Envoy's egress connection manager takes the upstream's x-envoy-decorator-operation off the
// response, a non-empty one naming its span (conn_manager_impl.cc encodeHeaders, egress).
describe("an upstream's x-envoy-decorator-operation answer", () => {
  const LEGACY = 'legacy.default.svc.cluster.local:9080/*';

  async function answering(): Promise<number> {
    const server = cleanup.server(
      createServer((_req, res) => res.writeHead(200, { 'x-envoy-decorator-operation': LEGACY }).end('ok')),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  it('names the CLIENT span and is taken off the response, routed or passed through', async () => {
    const port = await answering();
    const spans = new InMemorySpanExporter();
    const mesh = await callerOf(port, EVERY_TRACE, spans);
    for (const url of [`http://legacy.example:${port}/a`, `http://127.0.0.1:${port}/b`]) {
      const res = await mesh.fetch(url);
      expect(res.headers.get('x-envoy-decorator-operation')).toBeNull();
      await res.text();
    }
    expect(spans.getFinishedSpans().map((s) => s.name)).toEqual([LEGACY, LEGACY]);
  });

  it('is passed to the application when tracing is off', async () => {
    const port = await answering();
    const mesh = await callerOf(
      port,
      EVERY_TRACE.replace('randomSamplingPercentage: 100', 'disableSpanReporting: true'),
      new InMemorySpanExporter(),
    );
    const res = await mesh.fetch(`http://legacy.example:${port}/a`);
    expect(res.headers.get('x-envoy-decorator-operation')).toBe(LEGACY);
    await res.text();
  });
});
