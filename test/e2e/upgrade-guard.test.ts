import express from 'express';
import Fastify from 'fastify';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';
import { httpbinMesh, type Closers } from '../support/httpbin-mesh.js';
import { localRateLimitYaml } from '../../packages/core/test/helpers/local-rate-limit.js';
import { DENY_PRIVATE } from '../support/policies.js';

// An upgrade request (a WebSocket handshake) goes through the sidecar's filters like any
// request: Istio's connection managers allow `websocket` upgrades, and the RBAC filter runs
// before the router takes the upgrade. A WebSocket server on the server meshlet makes
// (`mesh.listen`, a Fastify `serverFactory`) listens for `upgrade` on it: the mesh decides
// each upgrade request first. Real servers, the handshake written on a raw socket, and a
// toy server that echoes once switched.

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Upgraded {
  readonly url: string;
  readonly meshlet: unknown;
}

/**
 * An `upgrade` listener that switches (to `websocket`, the only upgrade Istio allows) and
 * echoes, recording what it was handed.
 */
function echoUpgrades(seen: Upgraded[]) {
  return (req: IncomingMessage, socket: Duplex): void => {
    seen.push({ url: req.url ?? '', meshlet: (req as { meshlet?: unknown }).meshlet });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  };
}

/** Sends an upgrade to `path`, then `hi` once switched; resolves with what came back. */
function upgrade(port: number, path: string): Promise<{ head: string; echoed: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: httpbin\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      ),
    );
    let text = '';
    let switched = false;
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      text += c;
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (text.startsWith('HTTP/1.1 101') && !switched) {
        switched = true;
        socket.write('hi');
      }
      if (switched && text.slice(end + 4) === 'hi') {
        socket.destroy();
        resolve({ head: text.slice(0, end), echoed: 'hi', closed: false });
      }
    });
    socket.on('close', () => resolve({ head: text.split('\r\n\r\n')[0] ?? '', echoed: '', closed: true }));
    socket.on('error', reject);
  });
}

const SERVERS = {
  async 'mesh.listen (Express)'(mesh: Mesh, seen: Upgraded[]): Promise<number> {
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/public', (_req, res) => res.send('plain'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    server.on('upgrade', echoUpgrades(seen));
    return (server.address() as AddressInfo).port;
  },
  async 'Fastify serverFactory'(mesh: Mesh, seen: Upgraded[]): Promise<number> {
    const app = Fastify({ serverFactory: mesh.serverFactory });
    await app.register(meshletFastify, { mesh });
    app.get('/public', () => 'plain');
    app.server.on('upgrade', echoUpgrades(seen));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  },
};

describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])('an upgrade request, %s', (kind) => {
  it('reaches the upgrade listener when allowed, with the normalized path and request.meshlet', async () => {
    const seen: Upgraded[] = [];
    const port = await SERVERS[kind](await httpbinMesh(closers, DENY_PRIVATE), seen);
    const r = await upgrade(port, '/a/../public');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(r.echoed).toBe('hi');
    expect(seen).toEqual([{ url: '/public', meshlet: { peer: null, auth: null } }]);
  });

  it('is answered 403 and closed when a policy denies it, and the listener never hears of it', async () => {
    const seen: Upgraded[] = [];
    const port = await SERVERS[kind](await httpbinMesh(closers, DENY_PRIVATE), seen);
    const r = await upgrade(port, '/public/../private');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
    expect(r.closed).toBe(true);
    expect(seen).toEqual([]);
  });

  it('leaves plain requests to the application', async () => {
    const port = await SERVERS[kind](await httpbinMesh(closers, DENY_PRIVATE), []);
    const res = await fetch(`http://127.0.0.1:${port}/public`);
    expect([res.status, await res.text()]).toEqual([200, 'plain']);
  });
});

// @fastify/websocket routes an upgrade through Fastify itself (`fastify.routing` with a
// response on the upgrade's socket), so the plugin's hook sees the request the mesh server
// already decided: it takes that decision rather than decide again, which would spend a
// second local rate limit token.
describe('an upgrade a WebSocket plugin routes through Fastify', () => {
  it('is decided once', async () => {
    const mesh = await httpbinMesh(
      closers,
      `${DENY_PRIVATE}---\n${localRateLimitYaml({ bucket: '{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 60s }' })}`,
    );
    const app = Fastify({ serverFactory: mesh.serverFactory });
    await app.register(meshletFastify, { mesh });
    const seen: Upgraded[] = [];
    app.get('/ws', (request, reply) => {
      seen.push({ url: request.url, meshlet: request.meshlet });
      reply.hijack();
      echoUpgrades([])(request.raw, request.raw.socket);
    });
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const res = new ServerResponse(req);
      res.assignSocket(socket as Socket);
      app.routing(req, res);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const r = await upgrade(port, '/ws');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(seen).toEqual([{ url: '/ws', meshlet: { peer: null, auth: null } }]);
    // The one token went to that upgrade.
    expect((await fetch(`http://127.0.0.1:${port}/ws`)).status).toBe(429);
  });
});

describe('the mesh server’s upgrade listeners', () => {
  it('are listed and counted, and once none is left an upgrade request is a plain one again', async () => {
    const mesh = await httpbinMesh(closers, DENY_PRIVATE);
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/public', (_req, res) => res.send('plain'));
    const server = await mesh.listen(app, 0, '127.0.0.1');
    const seen: Upgraded[] = [];
    const listener = echoUpgrades(seen);
    server.on('upgrade', listener);
    expect([server.listeners('upgrade'), server.listenerCount('upgrade')]).toEqual([[listener], 1]);
    server.off('upgrade', listener);
    expect(server.listenerCount('upgrade')).toBe(0);
    const port = (server.address() as AddressInfo).port;
    const r = await upgrade(port, '/public');
    expect(r.head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(seen).toEqual([]);
  });
});
