import express from 'express';
import Fastify from 'fastify';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';

// What a caller's Envoy headers look like to the application behind the sidecar. Envoy's
// connection manager removes `x-envoy-internal` from every request and marks none internal on a
// sidecar (its inbound listener does not use the remote address), so the request is external
// and cleanInternalHeaders also takes off Envoy's control headers; the edge-only ones and any
// other `x-envoy-` header pass (envoy conn_manager_utility.cc mutateRequestHeaders). An
// application that trusts `x-envoy-internal`, as Envoy's documentation suggests, is safe.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function meshOf(): Promise<Mesh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-internal-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'mesh.yaml'), '');
  const mesh = await createMesh({
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    config: dir,
    telemetry: false,
  });
  closers.push(() => mesh.close());
  return mesh;
}

type Echo = { headers: Record<string, unknown>; raw: string[] };

/** Each way a user serves; `/headers` answers with the request's headers and raw names. */
const SERVERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    app.get('/headers', (req) => ({
      headers: req.headers,
      raw: req.raw.rawHeaders.filter((_, i) => i % 2 === 0),
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  express: async (mesh: Mesh) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.get('/headers', (req, res) => {
      res.json({ headers: req.headers, raw: req.rawHeaders.filter((_, i) => i % 2 === 0) });
    });
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

const SENT = {
  'X-Envoy-Internal': 'true',
  'x-envoy-retry-on': '5xx',
  'x-envoy-upstream-rq-timeout-ms': '1',
  'x-envoy-force-trace': 'true',
  'x-envoy-attempt-count': '2',
  'x-envoy-decorator-operation': 'op',
  'x-envoy-external-address': '203.0.113.7',
};

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])("a caller's Envoy headers, %s", (kind) => {
  it('never reach the application as x-envoy-internal or control headers; the others do', async () => {
    const port = await SERVERS[kind](await meshOf());
    const res = await fetch(`http://127.0.0.1:${port}/headers`, { headers: SENT });
    expect(res.status).toBe(200);
    const { headers, raw } = (await res.json()) as Echo;
    const envoy = Object.keys(headers)
      .filter((h) => h.startsWith('x-envoy-'))
      .sort();
    expect(envoy).toEqual([
      'x-envoy-attempt-count',
      'x-envoy-decorator-operation',
      'x-envoy-external-address',
    ]);
    expect(
      raw
        .map((h) => h.toLowerCase())
        .filter((h) => h.startsWith('x-envoy-'))
        .sort(),
    ).toEqual(envoy);
    expect(headers['x-envoy-attempt-count']).toBe('2');
  });
});
