import { connect, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../packages/core/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { reviewsMesh, samples } from './support/services.js';

// When an inbound request's telemetry is recorded: when its response finishes, or, when
// the client goes away first, at the close with Envoy's `DC` flag and response code 0
// (spec/telemetry.md §1, response flags). One record per request either way.

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: reviews:9080\r\n\r\n`;

async function total(mesh: Mesh, labels: Record<string, string>): Promise<number> {
  const rows = await samples(mesh.metrics!, 'istio_requests_total');
  return rows
    .filter((r) => Object.entries(labels).every(([k, v]) => r.labels[k] === v))
    .reduce((a, r) => a + r.value, 0);
}

async function responseBytes(mesh: Mesh): Promise<number> {
  const rows = await samples(mesh.metrics!, 'istio_response_bytes_sum');
  return rows.reduce((a, r) => a + r.value, 0);
}

/** Resolves once `check` holds, polling every 5 ms; fails after two seconds. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('condition not reached within 2 s');
}

/** Writes `raw`, reads until `responses` complete responses arrived, returns the bytes read. */
function exchange(port: number, raw: string, responses: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      out += d;
      if ((out.match(/HTTP\/1\.1 \d{3} /g) ?? []).length === responses && /\r\n\r\n[^]*ok$/.test(out)) {
        socket.end();
        resolve(out);
      }
    });
    socket.on('error', reject);
  });
}

/** Sends a request and closes the connection once the server has it, before any answer. */
function abandon(port: number, raw: string, arrived: Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    socket.on('error', reject);
    socket.on('close', () => resolve());
    void arrived.then(() => socket.destroy());
  });
}

interface Service {
  port: number;
  /** Connections the server still holds open. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

const openConnections = (server: Server) =>
  new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

describe.each(['fastify', 'express'] as const)(
  'inbound telemetry at response end through %s',
  (framework) => {
    let mesh: Mesh;
    let service: Service;
    let arrived: () => void = () => undefined;
    let release: () => void = () => undefined;
    /** Resolves once /slow has written its late answer (to a client that is gone). */
    let answered: Promise<void> = Promise.resolve();
    let markAnswered: () => void = () => undefined;

    beforeAll(async () => {
      mesh = await reviewsMesh();
      // /slow answers only after the test says so (after its client is gone).
      const slow = () => {
        answered = new Promise<void>((resolve) => (markAnswered = resolve));
        return new Promise<void>((resolve) => {
          release = resolve;
          arrived();
        });
      };
      if (framework === 'fastify') {
        const app = Fastify();
        await app.register(fastifyMeshlet, { mesh });
        app.get('/ok', () => 'ok');
        app.get('/stream', (_req, reply) =>
          reply.type('text/plain').send(Readable.from(['chunk-1', 'chunk-22'])),
        );
        app.get('/slow', async (_req, reply) => {
          await slow();
          await reply.send('late');
          markAnswered();
          return reply;
        });
        await app.listen({ port: 0, host: '127.0.0.1' });
        service = {
          port: (app.server.address() as AddressInfo).port,
          connections: () => openConnections(app.server),
          close: () => app.close(),
        };
      } else {
        const app = express();
        app.use(expressMeshlet({ mesh }));
        app.get('/ok', (_req, res) => res.send('ok'));
        app.get('/stream', (_req, res) => {
          res.type('text/plain');
          res.write('chunk-1');
          setImmediate(() => res.end('chunk-22'));
        });
        app.get(
          '/slow',
          (_req, res) =>
            void slow().then(() => {
              res.send('late');
              markAnswered();
            }),
        );
        const server: Server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        service = {
          port: (server.address() as AddressInfo).port,
          connections: () => openConnections(server),
          close: () =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        };
      }
    });
    afterAll(async () => {
      await service.close();
      await mesh.close();
    });

    it('records each of three pipelined requests once, with exactly the bytes the client received', async () => {
      const before = await total(mesh, { response_code: '200' });
      const bytesBefore = await responseBytes(mesh);
      // The streamed one has no Content-Length: its chunk framing is on the wire too.
      const received = await exchange(service.port, GET('/stream') + GET('/ok') + GET('/ok'), 3);
      expect(received).toContain('chunked');
      // The connection closed after the third response; its close must not count anything again.
      await until(async () => (await service.connections()) === 0);
      expect(await total(mesh, { response_code: '200' })).toBe(before + 3);
      expect((await responseBytes(mesh)) - bytesBefore).toBe(Buffer.byteLength(received, 'latin1'));
    });

    it('records a request whose client left before the answer once, as DC with code 0', async () => {
      const before = await total(mesh, { response_flags: 'DC' });
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      await abandon(service.port, GET('/slow'), reached);
      // The server learns of the close asynchronously: wait for it rather than for a fixed time.
      await until(async () => (await total(mesh, { response_flags: 'DC' })) > before);
      expect(await total(mesh, { response_flags: 'DC', response_code: '0' })).toBe(before + 1);
      release();
      // The handler's late write to the closed connection must not count a second time.
      await answered;
      await new Promise((r) => setImmediate(r));
      expect(await total(mesh, { response_flags: 'DC' })).toBe(before + 1);
    });
  },
);

describe('inbound telemetry for Fastify inject (no connection to watch)', () => {
  it('records each injected request once', async () => {
    const mesh = await reviewsMesh();
    const app = Fastify();
    try {
      await app.register(fastifyMeshlet, { mesh });
      app.get('/ok', () => 'ok');
      await app.ready();
      const res = await app.inject({ method: 'GET', url: '/ok' });
      expect(res.statusCode).toBe(200);
      await app.inject({ method: 'GET', url: '/ok' });
      expect(await total(mesh, { response_code: '200' })).toBe(2);
      // Status line + headers + the 2-byte body, from the response itself.
      expect(await responseBytes(mesh)).toBeGreaterThan(2 * (17 + 2));
    } finally {
      await app.close();
      await mesh.close();
    }
  });
});
