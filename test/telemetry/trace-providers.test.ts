import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/fastify/src/index.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';

/** One request a collector received. */
interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
const tmp = useTmpDir();

async function listen(server: Server | Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A collector over HTTP/1.1 (OTLP/HTTP or Zipkin): records every POST, answers 200. */
async function httpCollector(): Promise<{ port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(req.url === '/api/v2/spans' ? 202 : 200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return { port: await listen(server), got };
}

/**
 * An OTLP/gRPC collector: a real HTTP/2 server answering the TraceService/Export call
 * with an empty ExportTraceServiceResponse (one zero-length gRPC message) and status 0.
 */
async function grpcCollector(): Promise<{ port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const { ':path': p, ...rest } = headers;
      got.push({ path: String(p), headers: rest, body: Buffer.concat(chunks) });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  return { port: await listen(server), got };
}

/** The spans of OTLP/HTTP JSON export requests: trace id (hex) and kind (2 SERVER, 3 CLIENT). */
function otlpSpans(got: readonly Received[]): { traceId: string; kind: number }[] {
  return got.flatMap((g) => {
    expect(g.headers['content-type']).toBe('application/json');
    const body = JSON.parse(g.body.toString()) as {
      resourceSpans: { scopeSpans: { spans: { traceId: string; kind: number }[] }[] }[];
    };
    return body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  });
}

/** An upstream that records the trace headers it is sent. */
async function upstream(): Promise<{ port: number; traceparents: string[] }> {
  const traceparents: string[] = [];
  const server = createServer((req, res) => {
    traceparents.push(String(req.headers['traceparent']));
    res.end('ok');
  });
  return { port: await listen(server), traceparents };
}

/**
 * A Fastify service with meshlet: `GET /` calls the upstream through `mesh.fetch`,
 * giving one SERVER span and one CLIENT span in the same trace.
 */
async function service(meshYaml: string, telemetryYaml: string, upstreamPort: number): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), istioConfigMap(meshYaml));
  await writeFile(path.join(dir, 'telemetry.yaml'), telemetryYaml);
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'front-v1', namespace: 'default', serviceAccount: 'front', labels: { app: 'front' } },
  });
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/', async () => (await mesh.fetch(`http://127.0.0.1:${upstreamPort}/data`)).text());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const res = await fetch(`http://127.0.0.1:${port}/`);
  expect(await res.text()).toBe('ok');
  await app.close();
  // Closing the mesh shuts its TracerProvider down, which flushes the batch processors.
  await mesh.close();
  return mesh;
}

const sampleAll = (providers: string) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
${providers}
`;

describe('tracing providers from meshConfig extensionProviders (Telemetry tracing providers / defaultProviders.tracing)', () => {
  it('exports to an opentelemetry provider with http over OTLP/HTTP, with its path and headers', async () => {
    const collector = await httpCollector();
    const up = await upstream();
    process.env['MESHLET_TEST_OTLP_TOKEN'] = 'from-env';
    closers.push(() => Promise.resolve(delete process.env['MESHLET_TEST_OTLP_TOKEN']));
    await service(
      `extensionProviders:
- name: otel-http
  opentelemetry:
    service: observability/127.0.0.1
    port: ${collector.port}
    http:
      path: /otlp/v1/traces
      timeout: 5s
      headers:
      - name: x-tenant
        value: team-a
      - name: authorization
        envName: MESHLET_TEST_OTLP_TOKEN
defaultProviders:
  tracing: [otel-http]`,
      sampleAll('  - randomSamplingPercentage: 100'),
      up.port,
    );
    const traceId = up.traceparents[0]?.split('-')[1];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(collector.got.length).toBeGreaterThan(0);
    const req = collector.got[0]!;
    expect(req.path).toBe('/otlp/v1/traces');
    expect(req.headers['x-tenant']).toBe('team-a');
    expect(req.headers['authorization']).toBe('from-env');
    const spans = otlpSpans(collector.got);
    expect(spans.map((s) => [s.traceId, s.kind]).sort()).toEqual([
      [traceId, 2],
      [traceId, 3],
    ]);
  });

  it('exports to an opentelemetry provider without http over OTLP/gRPC (Istio default), with initialMetadata', async () => {
    const collector = await grpcCollector();
    const up = await upstream();
    await service(
      `extensionProviders:
- name: otel
  opentelemetry:
    service: 127.0.0.1
    port: ${collector.port}
    grpc:
      initialMetadata:
      - name: x-tenant
        value: team-b`,
      sampleAll(`  - providers: [{ name: otel }]
    randomSamplingPercentage: 100`),
      up.port,
    );
    const traceId = Buffer.from(up.traceparents[0]!.split('-')[1]!, 'hex');
    expect(collector.got.length).toBeGreaterThan(0);
    const req = collector.got[0]!;
    expect(req.path).toBe('/opentelemetry.proto.collector.trace.v1.TraceService/Export');
    expect(req.headers['content-type']).toBe('application/grpc');
    expect(req.headers['x-tenant']).toBe('team-b');
    expect(collector.got.some((g) => g.body.includes(traceId))).toBe(true);
  });

  it('sends CLIENT spans to the Telemetry CLIENT provider (zipkin, with its headers) and SERVER spans to the SERVER one (OTLP)', async () => {
    const zipkin = await httpCollector();
    const otlp = await httpCollector();
    const up = await upstream();
    await service(
      `extensionProviders:
- name: zipkin
  zipkin:
    service: 127.0.0.1
    port: ${zipkin.port}
    headers: [{ name: x-zipkin-tenant, value: team-a }]
- name: otel-http
  opentelemetry:
    service: 127.0.0.1
    port: ${otlp.port}
    http: { path: /v1/traces }`,
      sampleAll(`  - match: { mode: CLIENT }
    providers: [{ name: zipkin }]
    randomSamplingPercentage: 100
  - match: { mode: SERVER }
    providers: [{ name: otel-http }]
    randomSamplingPercentage: 100`),
      up.port,
    );
    const traceId = up.traceparents[0]!.split('-')[1]!;
    expect(zipkin.got.map((g) => g.path)).toEqual(['/api/v2/spans']);
    expect(zipkin.got[0]!.headers['x-zipkin-tenant']).toBe('team-a');
    const zipkinSpans = JSON.parse(zipkin.got[0]!.body.toString()) as { kind: string; traceId: string }[];
    expect(zipkinSpans.map((s) => s.kind)).toEqual(['CLIENT']);
    expect(zipkinSpans[0]!.traceId).toBe(traceId);
    // The OTLP collector saw the SERVER span of the same trace and no CLIENT span.
    expect(otlpSpans(otlp.got)).toEqual([expect.objectContaining({ traceId, kind: 2 })]);
  });

  it('reports no spans for a Telemetry naming a provider meshConfig does not define, as Istio does', async () => {
    const collector = await httpCollector();
    const up = await upstream();
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `http://127.0.0.1:${collector.port}/v1/traces`;
    closers.push(() => Promise.resolve(delete process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']));
    const mesh = await service(
      `trustDomain: cluster.local`,
      sampleAll(`  - providers: [{ name: jaeger }]
    randomSamplingPercentage: 100`),
      up.port,
    );
    expect(mesh.telemetry?.tracing.config.server).toMatchObject({ provider: 'jaeger', disabled: true });
    expect(collector.got).toEqual([]);
    const warning = mesh.snapshot.diagnostics.find((d) => d.code === 'MESHLET0004');
    expect(warning).toMatchObject({ level: 'Warning', path: 'spec.tracing[0].providers[0].name', line: 6 });
    expect(warning?.message).toMatch(/"jaeger" is not defined in meshConfig extensionProviders/);
  });
});
