import express from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  istioSampleCheck,
  startExtAuthzGrpcServer,
  type ExtAuthzGrpcServer,
} from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// istio.io tasks/security/authorization/authz-custom: the sample ext-authz server behind
// the `sample-ext-authz-grpc` provider, and a CUSTOM policy on httpbin's /headers. The
// server is a real gRPC server on loopback answering as Istio's sample does.
const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: sample-ext-authz-grpc }
  rules:
  - to: [{ operation: { paths: ["/headers"] } }]
`;

const tmp = useTmpDir();
let authz: ExtAuthzGrpcServer;
beforeAll(async () => {
  authz = await startExtAuthzGrpcServer(istioSampleCheck);
});
afterAll(() => authz.close());

const meshes: Mesh[] = [];
afterEach(async () => {
  for (const m of meshes.splice(0)) await m.close();
});

async function httpbinMesh(): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${istioConfigMap(`
extensionProviders:
- name: sample-ext-authz-grpc
  envoyExtAuthzGrpc:
    service: 127.0.0.1
    port: "${authz.port}"`)}${POLICY}`,
  );
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
  });
  meshes.push(mesh);
  return mesh;
}

type Headers = Record<string, string | string[] | undefined>;

const ADAPTERS = {
  fastify: async (mesh: Mesh): Promise<Server> => {
    const app = Fastify({ serverFactory: mesh.serverFactory });
    await app.register(meshletFastify, { mesh });
    app.get('/headers', (req) => ({ headers: req.headers }));
    app.get('/ip', () => ({ origin: '127.0.0.1' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app.server;
  },
  express: async (mesh: Mesh): Promise<Server> => {
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/headers', (req, res) => res.json({ headers: req.headers }));
    app.get('/ip', (_req, res) => res.json({ origin: '127.0.0.1' }));
    return mesh.listen(app, 0, '127.0.0.1');
  },
} as const;

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'CUSTOM authorization over gRPC (istio.io authz-custom task) with %s',
  (adapter) => {
    it('denies /headers without x-ext-authz: allow, with the server body and header', async () => {
      const mesh = await httpbinMesh();
      const server = await ADAPTERS[adapter](mesh);
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const before = authz.seen.length;

      const denied = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'deny' } });
      expect(denied.status).toBe(403);
      expect(await denied.text()).toBe(
        'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
      );
      expect(denied.headers.get('x-ext-authz-check-result')).toBe('denied');

      const allowed = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
      expect(allowed.status).toBe(200);
      const seen = ((await allowed.json()) as { headers: Headers }).headers;
      expect(seen['x-ext-authz-check-result']).toBe('allowed');

      // Paths the policy does not name are not sent to the server.
      const ip = await fetch(`${base}/ip`);
      expect(ip.status).toBe(200);
      expect(authz.seen.length - before).toBe(2);
      const check = authz.seen.at(-1)!.attributes.request.http;
      expect(check).toMatchObject({
        method: 'GET',
        path: '/headers',
        host: `127.0.0.1:${new URL(base).port}`,
      });
      expect(check.headers['x-ext-authz']).toBe('allow');
    });
  },
);
