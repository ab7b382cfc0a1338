import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/fastify/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';

// Envoy logs %DOWNSTREAM_REMOTE_ADDRESS% as the client address its connection manager
// found (conn_manager_utility.cc mutateRequestHeaders): on a sidecar (istiod sets
// use_remote_address: false) the rightmost X-Forwarded-For entry, with port 0, else the
// peer; on a gateway the entry numTrustedProxies hops back. The same address remote.ip reads.
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function service(labels: Record<string, string>, numTrustedProxies = 0, host = '127.0.0.1') {
  const lines: string[] = [];
  const mesh: Mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels },
    meshConfig: { accessLogFile: '/dev/stdout', numTrustedProxies },
    telemetry: {
      otlp: false,
      accessLogSink: {
        stream: lineCollector(lines),
      },
    },
  });
  closers.push(() => mesh.close());
  const app = Fastify();
  await app.register(meshlet, { mesh });
  app.get('/ip', () => 'ok');
  await app.listen({ port: 0, host });
  closers.push(() => app.close());
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${(app.server.address() as AddressInfo).port}`;
  const call = async (headers: Record<string, string> = {}) => {
    const before = lines.length;
    expect((await fetch(`${base}/ip`, { headers })).status).toBe(200);
    await linesBeyond(lines, before);
    // Istio's TEXT format: ... %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
    return lines.at(-1)!.split(' ').at(-3);
  };
  return { call };
}

describe("the inbound access log's downstream remote address", () => {
  it('is the rightmost X-Forwarded-For entry on a sidecar, else the peer', async () => {
    const { call } = await service({ app: 'httpbin' });
    expect(await call({ 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).toBe('203.0.113.7:0');
    expect(await call()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await call({ 'x-forwarded-for': 'not-an-address' })).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('is the entry numTrustedProxies hops back on a gateway', async () => {
    const { call } = await service({ istio: 'ingressgateway' }, 1);
    expect(await call({ 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).toBe('203.0.113.7:0');
    const none = await service({ istio: 'ingressgateway' }, 0);
    expect(await none.call({ 'x-forwarded-for': '203.0.113.7' })).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('brackets an IPv6 peer, as Envoy prints an address', async () => {
    const { call } = await service({ app: 'httpbin' }, 0, '::1');
    expect(await call()).toMatch(/^\[::1\]:\d+$/);
  });
});
