import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  startRateLimitServer,
  type RateLimitGrpcServer,
} from '../../packages/core/test/helpers/rate-limit-grpc-server.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import {
  clusterPatch,
  envoyFilterYaml,
  PATH_DESCRIPTOR,
  rateLimitFilterPatch,
  virtualHostRateLimitsPatch,
} from '../../packages/core/test/helpers/global-rate-limit.js';
import { meshlet } from '../../packages/fastify/src/index.js';

// The global rate limit filter calls its service with Envoy's gRPC async client, whose span
// is a child of the request's: "async envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit
// egress", tagged `ratelimit_status` ok / over_limit (envoy filters/common/ratelimit
// ratelimit_impl.cc onSuccess). A real gRPC rate limit service and a real Fastify service.
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const sampled = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

const config = (rlsPort: number) =>
  envoyFilterYaml({
    namespace: 'foo',
    app: 'httpbin',
    patches: [
      rateLimitFilterPatch({ cluster: 'rate_limit_cluster', timeout: '10s' }),
      clusterPatch('rate_limit_cluster', '127.0.0.1', rlsPort),
      virtualHostRateLimitsPatch(PATH_DESCRIPTOR),
    ],
  });

const tmp = useTmpDir();
let exporter = new InMemorySpanExporter();
let rls: RateLimitGrpcServer;
beforeAll(async () => {
  rls = await startRateLimitServer({
    config:
      'domain: ratelimit\ndescriptors:\n  - key: PATH\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n',
  });
});
afterAll(async () => {
  await rls.close();
});
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  exporter = new InMemorySpanExporter();
});

async function httpbin(): Promise<{ mesh: Mesh; base: string }> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config(rls.port));
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    telemetry: { spanProcessors: [new SimpleSpanProcessor(exporter)], otlp: false },
  });
  closers.push(() => mesh.close());
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/*', () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { mesh, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/** The SERVER span and the rate limit call's CLIENT span of the one request made. */
async function spans(mesh: Mesh): Promise<{ server: ReadableSpan; call: ReadableSpan }> {
  const until = Date.now() + 2_000;
  while (!exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 5));
  await mesh.telemetry!.tracing.forceFlush();
  const all = exporter.getFinishedSpans();
  const server = all.filter((s) => s.kind === SpanKind.SERVER);
  const call = all.filter((s) => s.kind === SpanKind.CLIENT);
  expect([server.length, call.length]).toEqual([1, 1]);
  exporter.reset();
  return { server: server[0]!, call: call[0]! };
}

describe("the global rate limit call's span", () => {
  it('is a child of the SERVER span, named as Envoy names it, tagged ratelimit_status ok then over_limit', async () => {
    const { mesh, base } = await httpbin();
    const target = `/span-${Date.now()}`;
    expect((await fetch(`${base}${target}`, { headers: { traceparent: sampled } })).status).toBe(200);
    let { server, call } = await spans(mesh);
    expect(call.name).toBe('async envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit egress');
    expect(call.spanContext().traceId).toBe(TRACE_ID);
    expect(call.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(call.attributes).toMatchObject({
      ratelimit_status: 'ok',
      'grpc.status_code': '0',
      upstream_cluster: 'rate_limit_cluster',
    });

    expect((await fetch(`${base}${target}`, { headers: { traceparent: sampled } })).status).toBe(429);
    ({ server, call } = await spans(mesh));
    expect(call.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(call.attributes['ratelimit_status']).toBe('over_limit');
  });
});
