import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { localRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet } from '../../packages/fastify/src/index.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { converse, refusedWith } from '../support/ws-client.js';
import { histogramSum, observedMesh, requestsTotal } from '../support/observed-httpbin.js';
import { DENY_PRIVATE } from '../support/policies.js';

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

type Kind = 'serverFactory' | 'its own server';

async function serve(kind: Kind, config: string) {
  const dir = await tmp();
  await writeFile(path.join(dir, 'policies.yaml'), config);
  const { mesh, registry, log, spans } = await observedMesh(dir, closers);
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

const refused = async (port: number, path: string): Promise<number> => (await refusedWith(port, path)).status;

// On Fastify's own server no mesh server decides first: the plugin's hook decides the upgrade
// Fastify routes, and hands the stream to the telemetry when it allows it.
describe.each(['serverFactory', 'its own server'] as const)('@fastify/websocket, Fastify on %s', (kind) => {
  it('serves an allowed WebSocket with request.meshlet, reported once as a 101 stream', async () => {
    const s = await serve(kind, DENY_PRIVATE);
    const c = await converse(s.port, 'close', '/ws', 'hi');
    expect(s.handled).toEqual([{ url: '/ws', meshlet: { peer: null, auth: null } }]);
    await linesBeyond(s.log, 0);
    // Once: by the mesh server's guard, or by the plugin's hook when Fastify routed it first.
    // A second report would come from the same close, in the same turn of the event loop.
    await new Promise(setImmediate);
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
    await new Promise(setImmediate);
    expect(s.log).toHaveLength(1);
    expect(JSON.parse(s.log[0]!)).toMatchObject({ path: '/private', response_code: 403 });
  });

  it('routes an upgrade on the path authorization checked, or refuses it and closes its connection', async () => {
    const s = await serve(kind, DENY_PRIVATE);
    // /%77s is /ws once normalized (an unreserved character decoded). A serverFactory's mesh server hands Fastify the
    // normalized path; on Fastify's own server Fastify routed the raw one before the hook, so
    // the plugin refuses what it cannot make equal, and the handed-over connection closes.
    if (kind === 'serverFactory') {
      await converse(s.port, 'close', '/%77s', 'hi');
      expect(s.handled).toEqual([{ url: '/ws', meshlet: { peer: null, auth: null } }]);
    } else {
      expect(await refusedWith(s.port, '/%77s')).toEqual({ status: 400, connection: 'close' });
      expect(s.handled).toEqual([]);
    }
  });

  it('spends one local rate limit token per upgrade', async () => {
    const s = await serve(
      kind,
      `${DENY_PRIVATE}---\n${localRateLimitYaml({ bucket: '{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }' })}`,
    );
    await converse(s.port, 'close', '/ws', 'hi');
    expect(await refused(s.port, '/ws')).toBe(429);
    expect(s.handled).toHaveLength(1);
  });
});
