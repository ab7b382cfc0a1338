import express from 'express';
import Fastify from 'fastify';
import type { ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { DENY_ADMIN } from '../support/policies.js';

// With tracing configured, Envoy's ingress connection manager takes a caller's
// x-envoy-decorator-operation off the request (it names the SERVER span), and otherwise
// sets the route's operation on every response it encodes, the application's and its own
// local replies alike, sampled or not (envoy source/common/http/conn_manager_impl.cc
// traceRequest and ActiveStream::encodeHeaders; the route decorator's `propagate` defaults
// to true). istiod configures no tracing with meshConfig `enableTracing: false`
// (pilot/pkg/networking/core/tracing.go), and then none of this happens.
const DECORATOR = 'x-envoy-decorator-operation';
const OPERATION = /^httpbin\.foo\.svc\.cluster\.local:\d+\/\*$/;

/** Refuses `/guarded` to a request that still carries the header when authorization runs. */
const DENY_NAMED = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-named, namespace: foo }
spec:
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/guarded"] } }]
    when: [{ key: "request.headers[${DECORATOR}]", values: ["*"] }]
`;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function meshFor(meshConfig: Record<string, unknown> = {}): Promise<Mesh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-decorator-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'deny-admin.yaml'), DENY_ADMIN + DENY_NAMED);
  const mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    meshConfig,
    telemetry: { otlp: false },
  });
  closers.push(() => mesh.close());
  return mesh;
}

/** The app echoes the decorator header it received, and sets its own to show the mesh's wins. */
const SERVERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    app.get('/echo', (req, reply) =>
      reply.header(DECORATOR, 'from-app').send(String(req.headers[DECORATOR] ?? 'none')),
    );
    app.get('/admin', () => 'admin');
    app.get('/guarded', () => 'guarded');
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  'express answering with writeHead': async (mesh: Mesh) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.get('/echo', (req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain', [DECORATOR]: 'from-app' });
      res.end(String(req.headers[DECORATOR] ?? 'none'));
    });
    app.get('/admin', (_req, res) => res.send('admin'));
    app.get('/guarded', (_req, res) => res.send('guarded'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])(
  'x-envoy-decorator-operation inbound, %s',
  (kind) => {
    async function call(port: number, url: string, headers: Record<string, string> = {}) {
      const res = await fetch(`http://127.0.0.1:${port}${url}`, { headers });
      return { status: res.status, operation: res.headers.get(DECORATOR), body: await res.text() };
    }

    it("answers the inbound route's operation on the application's responses and on local replies", async () => {
      const port = await SERVERS[kind](await meshFor());
      const ok = await call(port, '/echo');
      expect(ok.status).toBe(200);
      expect(ok.body).toBe('none');
      expect(ok.operation).toMatch(OPERATION);
      expect(ok.operation).toContain(`:${port}/*`);
      const denied = await call(port, '/admin');
      expect(denied.status).toBe(403);
      expect(denied.operation).toBe(ok.operation);
    });

    it("takes a caller's operation off the request and answers none", async () => {
      const port = await SERVERS[kind](await meshFor());
      const named = await call(port, '/echo', { [DECORATOR]: 'productpage-call' });
      expect(named.body).toBe('none');
      expect(named.operation).toBe('from-app');
      // Envoy takes it off before any filter runs: authorization does not see it.
      expect((await call(port, '/guarded', { [DECORATOR]: 'productpage-call' })).status).toBe(200);
    });

    it('leaves both alone when meshConfig turns tracing off', async () => {
      const port = await SERVERS[kind](await meshFor({ enableTracing: false }));
      expect(await call(port, '/echo')).toMatchObject({ operation: 'from-app', body: 'none' });
      expect((await call(port, '/echo', { [DECORATOR]: 'x' })).body).toBe('x');
      expect((await call(port, '/guarded', { [DECORATOR]: 'x' })).status).toBe(403);
    });
  },
);
