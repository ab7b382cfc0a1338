import express from 'express';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MeshletError } from '../../packages/core/src/index.js';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { observedMesh, requestsTotal } from '../support/observed-httpbin.js';
import { converse, refusedWith } from '../support/ws-client.js';
import { DENY_PRIVATE } from '../support/policies.js';

// mesh.guardUpgrades: a WebSocket server on a server meshlet did not make (Express's own
// http.Server, `ws` straight on Fastify's) hears upgrade requests node parsed, which no
// middleware or hook sees. Behind a sidecar every upgrade passes its filters first (Istio's
// connection managers allow websocket upgrades, the filters run before the router takes
// them). With the guard the same holds here: a DENY policy refuses the handshake, an allowed
// one is reported when its connection closes. Real servers and `ws` clients on loopback.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** An echoing `ws` server on `server`, as `new WebSocketServer({ server })` sets one up; the paths it opened. */
function echoOn(server: http.Server): string[] {
  const opened: string[] = [];
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    opened.push(req.url ?? '');
    ws.on('message', (m, binary) => ws.send(m, { binary }));
  });
  closers.push(() => new Promise<void>((r) => wss.close(() => r())));
  return opened;
}

async function meshWithPolicy(): Promise<Awaited<ReturnType<typeof observedMesh>>> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'deny.yaml'), DENY_PRIVATE);
  return observedMesh(dir, closers);
}

describe('mesh.guardUpgrades on Express’s own server', () => {
  it('refuses the upgrade a DENY policy matches, and reports an allowed one when it closes', async () => {
    const { mesh, log, registry } = await meshWithPolicy();
    const app = express();
    app.use(meshletExpress({ mesh }));
    const server = http.createServer(app);
    const opened = echoOn(server);
    mesh.guardUpgrades(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;

    expect((await refusedWith(port, '/private')).status).toBe(403);
    await converse(port, 'close', '/ws', 'allowed');
    expect(opened).toEqual(['/ws']);
    await linesBeyond(log, 1);
    const codes = log.map((l) => (JSON.parse(l) as { response_code: number }).response_code).sort();
    expect(codes).toEqual([101, 403]);
    const upgraded = (await requestsTotal(registry)).find((r) => r.labels['response_code'] === '101');
    expect(upgraded?.labels['reporter']).toBe('destination');
  });

  it('guards a WebSocket server added after the call, once, however often it is called', async () => {
    const { mesh, log } = await meshWithPolicy();
    const server = http.createServer((_req, res) => res.end('ok'));
    mesh.guardUpgrades(server);
    mesh.guardUpgrades(server);
    const opened = echoOn(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    expect((await refusedWith(port, '/private')).status).toBe(403);
    await converse(port, 'close', '/ws', 'later');
    expect(opened).toEqual(['/ws']);
    // Decided and reported once each: one 403, one 101.
    await linesBeyond(log, 1);
    await new Promise((r) => setImmediate(r));
    expect(log).toHaveLength(2);
  });

  it('serves an h2c upgrade with no body as a plain request, as Envoy’s codec does', async () => {
    const { mesh } = await meshWithPolicy();
    const server = http.createServer((req, res) => res.end(`plain, upgrade ${String(req.headers.upgrade)}`));
    const opened = echoOn(server);
    mesh.guardUpgrades(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () =>
        socket.write(
          'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
        ),
      );
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => (text += c));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.endsWith('plain, upgrade undefined')).toBe(true);
    expect(opened).toEqual([]);
  });

  it('refuses what is not a server', async () => {
    const { mesh } = await meshWithPolicy();
    expect(() => mesh.guardUpgrades({} as http.Server)).toThrow(MeshletError);
  });
});

describe('mesh.guardUpgrades on Fastify’s own server, `ws` straight on it', () => {
  it('refuses the upgrade a DENY policy matches before ws hears of it', async () => {
    const { mesh } = await meshWithPolicy();
    const app = Fastify();
    await app.register(meshletFastify, { mesh });
    app.get('/', () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const opened = echoOn(app.server);
    mesh.guardUpgrades(app.server);
    const port = (app.server.address() as AddressInfo).port;
    expect((await refusedWith(port, '/private')).status).toBe(403);
    await converse(port, 'close', '/ws', 'on fastify');
    expect(opened).toEqual(['/ws']);
  });
});
