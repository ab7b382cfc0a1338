import express from 'express';
import Fastify from 'fastify';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { headerRecorder } from '../support/header-recorder.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet } from '../../packages/express/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';

// meshConfig defaultConfig.proxyHeaders xForwardedPort and xForwardedHost through real
// servers: the connection manager's append_x_forwarded_port on a request in and on a call
// out, and a route's append_x_forwarded_host when its rewrite replaces the authority (istio
// listener_builder.go, route.go; envoy conn_manager_utility.cc, http/utility.cc).
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function meshOf(yaml: string, workload = 'front'): Promise<Mesh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-xf-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  const mesh = await createMesh({
    workload: { name: workload, namespace: 'default', serviceAccount: workload, labels: { app: workload } },
    config: dir,
    telemetry: false,
  });
  closers.push(() => mesh.close());
  return mesh;
}

const recorder = () => headerRecorder(closers);

const ENABLED = istioConfigMap(`defaultConfig:
  proxyHeaders:
    xForwardedPort: { enabled: true }
    xForwardedHost: { enabled: true }`);

describe('proxyHeaders xForwardedPort and xForwardedHost', () => {
  it('gives a served request without x-forwarded-port the port it arrived on, keeping a sent one', async () => {
    const mesh = await meshOf(ENABLED);
    const app = express();
    app.use(meshlet({ mesh }));
    app.get('/', (req, res) => {
      res.json({ port: req.headers['x-forwarded-port'] ?? null });
    });
    const server = await mesh.listen(app, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;
    const plain = await fetch(`http://127.0.0.1:${port}/`);
    expect(await plain.json()).toEqual({ port: String(port) });
    const sent = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-port': '443' } });
    expect(await sent.json()).toEqual({ port: '443' });
  });

  it('adds x-forwarded-port to a call out, and x-forwarded-host when a rewrite replaces the authority', async () => {
    const api = await recorder();
    const mesh = await meshOf(`${ENABLED}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${api.port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  http:
  - match: [{ uri: { prefix: /rewritten } }]
    rewrite: { authority: api.internal }
    route: [{ destination: { host: api.example.com } }]
  - route: [{ destination: { host: api.example.com } }]
`);
    await (await mesh.fetch('http://api.example.com/rewritten')).text();
    await (await mesh.fetch('http://api.example.com/plain')).text();
    expect(api.seen.map((h) => [h['host'], h['x-forwarded-host'], h['x-forwarded-port']])).toEqual([
      ['api.internal', 'api.example.com', '80'],
      ['api.example.com', undefined, '80'],
    ]);
  });

  it('adds neither by default', async () => {
    const api = await recorder();
    const mesh = await meshOf('');
    await (await mesh.fetch(`http://127.0.0.1:${api.port}/`)).text();
    expect(api.seen[0]!['x-forwarded-port']).toBeUndefined();
    expect(api.seen[0]!['x-forwarded-host']).toBeUndefined();
  });
});

// x-forwarded-proto is always on: the sidecar's connection manager sets it on a request that
// has none, in (the connection's scheme) and out (`http`, the application's plaintext
// connection to it), before any filter (conn_manager_utility.cc mutateRequestHeaders). An
// application that reads it (Express's `trust proxy`, Fastify's `trustProxy`) sees what it
// would behind a sidecar.
const PROTO_SERVERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify({ trustProxy: true });
    await app.register(fastifyMeshlet, { mesh });
    app.get('/', (req) => ({ proto: req.headers['x-forwarded-proto'] ?? null, protocol: req.protocol }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  express: async (mesh: Mesh) => {
    const app = express();
    app.set('trust proxy', true);
    app.use(meshlet({ mesh }));
    app.get('/', (req, res) => {
      res.json({ proto: req.headers['x-forwarded-proto'] ?? null, protocol: req.protocol });
    });
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

describe.each(Object.keys(PROTO_SERVERS) as (keyof typeof PROTO_SERVERS)[])(
  'x-forwarded-proto, %s',
  (kind) => {
    it("gives a served request without one its connection's scheme, keeping a sent one", async () => {
      const port = await PROTO_SERVERS[kind](await meshOf(''));
      const plain = await fetch(`http://127.0.0.1:${port}/`);
      expect(await plain.json()).toEqual({ proto: 'http', protocol: 'http' });
      const sent = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(await sent.json()).toEqual({ proto: 'https', protocol: 'https' });
    });
  },
);

describe('x-forwarded-proto on calls out', () => {
  it("is http unless the application sent one, as the sidecar's connection manager sets it", async () => {
    const api = await recorder();
    const mesh = await meshOf('');
    await (await mesh.fetch(`http://127.0.0.1:${api.port}/`)).text();
    await (
      await mesh.fetch(`http://127.0.0.1:${api.port}/`, { headers: { 'x-forwarded-proto': 'https' } })
    ).text();
    expect(api.seen.map((h) => h['x-forwarded-proto'])).toEqual(['http', 'https']);
  });
});
