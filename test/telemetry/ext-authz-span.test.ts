import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  istioSampleCheck,
  ISTIO_SAMPLE_EXT_AUTHZ_SERVICES,
  istioSampleCustomPolicy,
  startExtAuthzGrpcServer,
  type ExtAuthzGrpcServer,
} from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// Envoy's ext_authz filter calls its provider with an async client whose span is a child
// of the request's span, keeps the parent's sampling, and injects that span's context
// into the check (ext_authz_http_impl.cc: setParentSpan, setChildSpanName
// "async <cluster> egress", setSampled(nullopt); the gRPC client's span is
// "async envoy.service.auth.v3.Authorization.Check egress"). The span carries
// `ext_authz_status` (ext_authz_ok / ext_authz_unauthorized) and, for HTTP,
// `ext_authz_http_status`. Real HTTP and gRPC providers on loopback, real Fastify and
// Express services, an in-memory span exporter.
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const sampled = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const notSampled = `00-${TRACE_ID}-${CALLER_SPAN}-00`;
const HTTP_CLUSTER = 'outbound|8000||ext-authz-http.foo.svc.cluster.local';

const config = (provider: string) =>
  `${istioConfigMap(`
extensionProviders:
- name: ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz-http.foo.svc.cluster.local
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
- name: ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz-grpc.foo.svc.cluster.local
    port: "9000"`)}${ISTIO_SAMPLE_EXT_AUTHZ_SERVICES}${istioSampleCustomPolicy(provider)}`;

const tmp = useTmpDir();
// Closing a mesh shuts its provider's processors down, and with them their exporter: one per test.
let exporter = new InMemorySpanExporter();
const httpChecks: IncomingHttpHeaders[] = [];
let httpAuthz: Server;
let grpcAuthz: ExtAuthzGrpcServer;

beforeAll(async () => {
  httpAuthz = createServer((req, res) => {
    httpChecks.push(req.headers);
    const allow = req.headers['x-ext-authz'] === 'allow';
    res.statusCode = allow ? 200 : 403;
    res.end(allow ? '' : 'denied by ext_authz');
  });
  await new Promise<void>((r) => httpAuthz.listen(0, '127.0.0.1', r));
  grpcAuthz = await startExtAuthzGrpcServer(istioSampleCheck);
});
afterAll(async () => {
  await grpcAuthz.close();
  httpAuthz.closeAllConnections();
  await new Promise<void>((r) => httpAuthz.close(() => r()));
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  exporter = new InMemorySpanExporter();
});

async function httpbinMesh(provider: string): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config(provider));
  const endpoint = (port: number) => [{ address: '127.0.0.1', port, labels: { app: 'ext-authz' } }];
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    endpoints: {
      'ext-authz-http.foo.svc.cluster.local': endpoint((httpAuthz.address() as AddressInfo).port),
      'ext-authz-grpc.foo.svc.cluster.local': endpoint(grpcAuthz.port),
    },
    telemetry: { spanProcessors: [new SimpleSpanProcessor(exporter)], otlp: false },
  });
  closers.push(() => mesh.close());
  return mesh;
}

async function fastifyApp(mesh: Mesh): Promise<string> {
  const app = Fastify();
  await app.register(meshletFastify, { mesh });
  app.get('/headers', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function expressApp(mesh: Mesh): Promise<string> {
  const app = express();
  app.use(meshletExpress({ mesh }));
  app.get('/headers', (_req, res) => res.json({ ok: true }));
  const server = await mesh.listen(app, 0, '127.0.0.1');
  closers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = (base: string, verdict: string, traceparent: string) =>
  fetch(`${base}/headers`, { headers: { 'x-ext-authz': verdict, traceparent } });

/** The request's SERVER span and the check's CLIENT span, after the mesh flushed. */
async function spansOf(mesh: Mesh): Promise<{ server: ReadableSpan; check: ReadableSpan }> {
  // The SERVER span ends when the server finishes the response, which the client may see first.
  const until = Date.now() + 2_000;
  while (!exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 5));
  await mesh.telemetry!.tracing.forceFlush();
  const spans = exporter.getFinishedSpans();
  const server = spans.filter((s) => s.kind === SpanKind.SERVER);
  const check = spans.filter((s) => s.kind === SpanKind.CLIENT);
  expect(server).toHaveLength(1);
  expect(check).toHaveLength(1);
  return { server: server[0]!, check: check[0]! };
}

const traceparentOf = (s: ReadableSpan) => `00-${TRACE_ID}-${s.spanContext().spanId}-01`;

describe("a CUSTOM check's span, as Envoy's ext_authz async client makes it", () => {
  it('HTTP provider: a child of the SERVER span, named after the cluster, whose context the check carries (Fastify)', async () => {
    const mesh = await httpbinMesh('ext-authz-http');
    const base = await fastifyApp(mesh);
    const before = httpChecks.length;
    expect((await get(base, 'allow', sampled)).status).toBe(200);

    const { server, check } = await spansOf(mesh);
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(check.spanContext().traceId).toBe(TRACE_ID);
    expect(check.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(check.name).toBe(`async ${HTTP_CLUSTER} egress`);
    expect(check.attributes).toMatchObject({
      ext_authz_status: 'ext_authz_ok',
      ext_authz_http_status: 'OK',
      upstream_cluster: HTTP_CLUSTER,
      'http.response.status_code': 200,
    });
    // The check ran inside the request: it ended before the SERVER span did.
    expect(check.endTime[0] * 1e9 + check.endTime[1]).toBeLessThanOrEqual(
      server.endTime[0] * 1e9 + server.endTime[1],
    );
    // The provider saw the check span's context, not the caller's, and no x-request-id:
    // only the listed headers and the tracer's go to an HTTP provider.
    const seen = httpChecks.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!['traceparent']).toBe(traceparentOf(check));
    expect(seen[0]!['x-request-id']).toBeUndefined();
  });

  it('HTTP provider: a denial is ext_authz_unauthorized with the status phrase (Express)', async () => {
    const mesh = await httpbinMesh('ext-authz-http');
    const base = await expressApp(mesh);
    expect((await get(base, 'deny', sampled)).status).toBe(403);
    const { server, check } = await spansOf(mesh);
    expect(check.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(check.attributes).toMatchObject({
      ext_authz_status: 'ext_authz_unauthorized',
      ext_authz_http_status: 'Forbidden',
    });
  });

  it('gRPC provider: "async envoy.service.auth.v3.Authorization.Check egress", with its context in the call metadata', async () => {
    const mesh = await httpbinMesh('ext-authz-grpc');
    const base = await fastifyApp(mesh);
    const before = grpcAuthz.traceparents.length;
    expect((await get(base, 'allow', sampled)).status).toBe(200);
    let { server, check } = await spansOf(mesh);
    expect(check.name).toBe('async envoy.service.auth.v3.Authorization.Check egress');
    expect(check.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(check.attributes).toMatchObject({
      ext_authz_status: 'ext_authz_ok',
      'grpc.status_code': '0',
      upstream_cluster: 'outbound|9000||ext-authz-grpc.foo.svc.cluster.local',
    });
    expect(grpcAuthz.traceparents.slice(before)).toEqual([traceparentOf(check)]);

    exporter.reset();
    expect((await get(base, 'deny', sampled)).status).toBe(403);
    ({ server, check } = await spansOf(mesh));
    expect(check.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(check.attributes['ext_authz_status']).toBe('ext_authz_unauthorized');
  });

  it('a failed check is an error span without ext_authz_status', async () => {
    const mesh = await httpbinMesh('ext-authz-grpc');
    const base = await fastifyApp(mesh);
    await grpcAuthz.close();
    try {
      expect((await get(base, 'allow', sampled)).status).toBe(403);
      const { check } = await spansOf(mesh);
      expect(check.status.code).toBe(SpanStatusCode.ERROR);
      expect(check.attributes['ext_authz_status']).toBeUndefined();
      expect(check.attributes['grpc.status_code']).toBe('14');
    } finally {
      grpcAuthz = await startExtAuthzGrpcServer(istioSampleCheck);
    }
  });

  it("keeps the request's sampling: an unsampled request records no span, and the check still carries its trace", async () => {
    const mesh = await httpbinMesh('ext-authz-http');
    const base = await fastifyApp(mesh);
    const before = httpChecks.length;
    expect((await get(base, 'allow', notSampled)).status).toBe(200);
    await mesh.telemetry!.tracing.forceFlush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    const tp = httpChecks.slice(before)[0]!['traceparent'] as string;
    expect(tp).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(tp).not.toContain(CALLER_SPAN);
  });
});
