import express from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { DENY_ADMIN } from '../support/policies.js';
import { httpbinMesh, type Closers } from '../support/httpbin-mesh.js';

// Envoy's connection manager overwrites `server` on every response it encodes, the
// upstream's and its own local replies, after every filter's header operations
// (conn_manager_impl.cc ActiveStream::encodeHeaders, server_header_transformation
// OVERWRITE). Istio names the server `istio-envoy` on a sidecar's inbound listener and
// leaves Envoy's `envoy` on its outbound one; meshConfig defaultConfig.proxyHeaders
// `server.disabled` makes it PASS_THROUGH and `server.value` names both
// (pilot/pkg/networking/util/proxy_headers.go).

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function meshOf(proxyHeaders: string | null): Promise<Mesh> {
  const yaml =
    proxyHeaders === null
      ? DENY_ADMIN
      : `${DENY_ADMIN}---\n${istioConfigMap(`defaultConfig:\n  proxyHeaders:\n${proxyHeaders}`)}`;
  return httpbinMesh(closers, yaml);
}

/** Each way a user serves; the application names itself `app/1.0` on `/hello`. */
const SERVERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    app.get('/hello', (_req, reply) => reply.header('Server', 'app/1.0').send('hello'));
    app.get('/admin', () => 'admin');
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  express: async (mesh: Mesh) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.get('/hello', (_req, res) => res.set('Server', 'app/1.0').send('hello'));
    app.get('/admin', (_req, res) => res.send('admin'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

async function get(port: number, p: string) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  await res.text();
  return { status: res.status, server: res.headers.get('server') };
}

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])('the server header inbound, %s', (kind) => {
  it('is istio-envoy on the application’s responses and on the mesh’s own refusals', async () => {
    const port = await SERVERS[kind](await meshOf(null));
    expect(await get(port, '/hello')).toEqual({ status: 200, server: 'istio-envoy' });
    expect(await get(port, '/admin')).toEqual({ status: 403, server: 'istio-envoy' });
  });

  it('passes the application’s through with server.disabled, and the refusal has none', async () => {
    const port = await SERVERS[kind](await meshOf('    server: { disabled: true }'));
    expect(await get(port, '/hello')).toEqual({ status: 200, server: 'app/1.0' });
    expect(await get(port, '/admin')).toEqual({ status: 403, server: null });
  });

  it('is server.value when one is named', async () => {
    const port = await SERVERS[kind](await meshOf('    server: { value: edge }'));
    expect(await get(port, '/hello')).toEqual({ status: 200, server: 'edge' });
    expect(await get(port, '/admin')).toEqual({ status: 403, server: 'edge' });
  });
});

describe('the server header on a call out', () => {
  it('is envoy on what mesh.fetch returns, over the called service’s istio-envoy', async () => {
    const port = await SERVERS.fastify(await meshOf(null));
    const caller = await meshOf(null);
    const res = await caller.fetch(`http://127.0.0.1:${port}/hello`);
    await res.text();
    expect([res.status, res.headers.get('server')]).toEqual([200, 'envoy']);
  });
});
