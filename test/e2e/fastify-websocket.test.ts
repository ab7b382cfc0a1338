import fastifyWebsocket from '@fastify/websocket';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMesh } from '../../packages/core/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { localRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet } from '../../packages/fastify/src/index.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { histogramSum, requestsTotal } from '../support/observed-httpbin.js';

// The common Fastify WebSocket setup, with the real @fastify/websocket: it listens for
// `upgrade` on Fastify's server and routes each upgrade through Fastify's router, hooks
// included, to a `{ websocket: true }` route. On a meshlet serverFactory the mesh decides the
// upgrade first (a denial never reaches Fastify), the plugin's hook takes that decision rather
// than decide again, the handler reads `request.meshlet`, and the WebSocket is reported once,
// when it closes, as Envoy reports the upgraded stream (websocket-telemetry.test.ts).

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const DENY_PRIVATE = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-private, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/private"] } }] }]
`;

/** Every request traced, so the stream's span shows. */
const TRACE_ALL = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 100
`;

type Kind = 'serverFactory' | 'its own server';

async function serve(kind: Kind, config: string) {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), `${config}---\n${TRACE_ALL}`);
  const registry = new Registry();
  const log: string[] = [];
  const spans = new InMemorySpanExporter();
  const mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    meshConfig: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' },
    telemetry: {
      registry,
      otlp: false,
      accessLogSink: { stream: lineCollector(log) },
      spanProcessors: [new SimpleSpanProcessor(spans)],
    },
  });
  closers.push(() => mesh.close());
  const app = Fastify(kind === 'serverFactory' ? { serverFactory: mesh.serverFactory } : {});
  await app.register(meshlet, { mesh });
  await app.register(fastifyWebsocket);
  const handled: unknown[] = [];
  const echo = (socket: WebSocket, request: { meshlet: unknown; url: string }): void => {
    handled.push({ url: request.url, meshlet: request.meshlet });
    socket.on('message', (m: Buffer) => socket.send(m.toString()));
  };
  app.get('/ws', { websocket: true }, echo);
  app.get('/private', { websocket: true }, echo);
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { port: (app.server.address() as AddressInfo).port, registry, log, spans, handled };
}

/** Opens `path`, sends `hi`, closes after the echo; resolves with the client socket's byte counts. */
function echoed(port: number, path: string): Promise<{ written: number; read: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
    let socket: { bytesWritten: number; bytesRead: number } | null = null;
    ws.on('upgrade', (res) => (socket = res.socket));
    ws.on('open', () => ws.send('hi'));
    ws.on('message', (m: Buffer) => {
      expect(m.toString()).toBe('hi');
      ws.close(1000);
    });
    ws.on('close', () =>
      setImmediate(() => resolve({ written: socket!.bytesWritten, read: socket!.bytesRead })),
    );
    ws.on('error', reject);
  });
}

/** Opens `path` on a server that refuses it; resolves with the status and `connection` header. */
function refusedWith(
  port: number,
  path: string,
): Promise<{ status: number; connection: string | undefined }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.on('error', () => {});
  return new Promise<{ status: number; connection: string | undefined }>((resolve) =>
    ws.on('unexpected-response', (_req, res) =>
      resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
    ),
  ).finally(() => ws.terminate());
}

const refused = async (port: number, path: string): Promise<number> => (await refusedWith(port, path)).status;

// On Fastify's own server no mesh server decides first: the plugin's hook decides the upgrade
// Fastify routes, and hands the stream to the telemetry when it allows it.
describe.each(['serverFactory', 'its own server'] as const)('@fastify/websocket, Fastify on %s', (kind) => {
  it('serves an allowed WebSocket with request.meshlet, reported once as a 101 stream', async () => {
    const s = await serve(kind, DENY_PRIVATE);
    const c = await echoed(s.port, '/ws');
    expect(s.handled).toEqual([{ url: '/ws', meshlet: { peer: null, auth: null } }]);
    await linesBeyond(s.log, 0);
    // Once: by the mesh server's guard, or by the plugin's hook when Fastify routed it first.
    await new Promise((r) => setTimeout(r, 50));
    expect(s.log).toHaveLength(1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ path: '/ws', response_code: 101, response_flags: 'UC' });
    expect((await requestsTotal(s.registry)).map((r) => [r.labels.response_code, r.value])).toEqual([
      ['101', 1],
    ]);
    expect(await histogramSum(s.registry, 'istio_request_bytes')).toBe(c.written);
    expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(c.read);
    expect(s.spans.getFinishedSpans().map((sp) => sp.attributes['http.response.status_code'])).toEqual([101]);
  });

  it('answers a denied upgrade 403 before the handler, reported once', async () => {
    const s = await serve(kind, DENY_PRIVATE);
    // The connection closes after the refusal: an upgrade request never completes.
    expect(await refusedWith(s.port, '/private')).toEqual({ status: 403, connection: 'close' });
    expect(s.handled).toEqual([]);
    await linesBeyond(s.log, 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.log).toHaveLength(1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ path: '/private', response_code: 403 });
  });

  it('spends one local rate limit token per upgrade', async () => {
    const s = await serve(
      kind,
      `${DENY_PRIVATE}---\n${localRateLimitYaml({ bucket: '{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }' })}`,
    );
    await echoed(s.port, '/ws');
    expect(await refused(s.port, '/ws')).toBe(429);
    expect(s.handled).toHaveLength(1);
  });
});
