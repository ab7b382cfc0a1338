import express from 'express';
import Fastify from 'fastify';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { headerRecorder } from '../support/header-recorder.js';

// Envoy's connection manager removes an invalid `referer` from every request, on the sidecar's
// inbound side and on the application's calls out (envoy conn_manager_utility.cc
// mutateRequestHeaders; http/utility.cc isValidRefererValue). Istio's proxy keeps referer as an
// inline header, so two Referer lines reach the application as one value joined with `,`
// (header_map_impl.cc insertByKey), judged as one. Through real servers: node keeps only the
// first of two Referer lines in `req.headers` (both in `rawHeaders`).

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function meshOf(): Promise<Mesh> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshlet-referer-'));
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

type Echo = { referer: string | null; raw: string[] };

const SERVERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    app.get('/referer', (req) => ({
      referer: req.headers.referer ?? null,
      raw: req.raw.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'referer'),
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
  express: async (mesh: Mesh) => {
    const app = express();
    app.use(expressMeshlet({ mesh }));
    app.get('/referer', (req, res) => {
      res.json({
        referer: req.headers.referer ?? null,
        raw: req.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'referer'),
      });
    });
    const server = await mesh.listen(app, 0, '127.0.0.1');
    return (server.address() as AddressInfo).port;
  },
} as const;

/** GET /referer with these referer lines, each its own header line, over a raw socket. */
async function getWithReferers(port: number, referers: string[]): Promise<Echo> {
  const lines = referers.map((r) => `Referer: ${r}\r\n`).join('');
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(`GET /referer HTTP/1.1\r\nHost: httpbin.foo\r\n${lines}Connection: close\r\n\r\n`);
    });
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
  expect(text.startsWith('HTTP/1.1 200')).toBe(true);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
}

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])('a client’s referer, %s', (kind) => {
  it('reaches the application when it is one valid value', async () => {
    const port = await SERVERS[kind](await meshOf());
    for (const referer of ['https://shop.example.com/cart?id=7', '/resource.html']) {
      expect(await getWithReferers(port, [referer])).toEqual({ referer, raw: [referer] });
    }
  });

  it('reaches it as one value when the client sent two', async () => {
    const port = await SERVERS[kind](await meshOf());
    const joined = 'https://a.example/,https://b.example/';
    expect(await getWithReferers(port, ['https://a.example/', 'https://b.example/'])).toEqual({
      referer: joined,
      raw: [joined],
    });
  });

  it('does not when it is invalid, alone or joined', async () => {
    const port = await SERVERS[kind](await meshOf());
    const none = { referer: null, raw: [] };
    expect(await getWithReferers(port, ['https://shop.example.com/cart#pay'])).toEqual(none);
    expect(await getWithReferers(port, ['android-app://com.example/'])).toEqual(none);
    expect(await getWithReferers(port, ['https://a.example/#x', 'https://b.example/'])).toEqual(none);
  });
});

describe('the application’s referer on a call out', () => {
  it('is sent when valid and dropped when not, as the sidecar’s outbound connection manager does', async () => {
    const api = await headerRecorder(closers);
    const mesh = await meshOf();
    const url = `http://127.0.0.1:${api.port}/`;
    await (await mesh.fetch(url, { headers: { referer: 'http://httpbin.foo:8000/page' } })).text();
    await (await mesh.fetch(url, { headers: { referer: 'http://user:pw@httpbin.foo:8000/page' } })).text();
    await (await mesh.fetch(url, { headers: { referer: 'http://httpbin.foo:8000/page#top' } })).text();
    expect(api.seen.map((h) => h.referer ?? null)).toEqual(['http://httpbin.foo:8000/page', null, null]);
  });
});
