import { Agent, createServer as createHttpServer, get, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createMeshServer } from '../../../src/inbound/server/mesh-server.js';
import { certSourceFor, httpbin, planFor } from './support.js';

describe('MeshServer.close', () => {
  it('stops accepting and closes an idle kept-alive connection, then calls back', async () => {
    const plan = planFor(httpbin('foo'));
    const server = createMeshServer({
      handler: (_req, res) => res.end('ok'),
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    server.keepAliveTimeout = 60_000;
    expect(server.http.keepAliveTimeout).toBe(60_000);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const socket = new Socket();
    let closed = false;
    let text = '';
    socket.on('close', () => (closed = true));
    socket.on('data', (c: Buffer) => (text += c.toString()));
    await new Promise<void>((r) => socket.connect(port, '127.0.0.1', r));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(text).toContain('ok'));
    const done = new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
    await done;
    expect(
      closed || socket.destroyed || (await new Promise<boolean>((r) => socket.once('close', () => r(true)))),
    ).toBe(true);
    expect(server.listening).toBe(false);
  });
});

/** Whether `setNoDelay(true)` is in force on a server-side socket (node keeps it under `kSetNoDelay`). */
function noDelayOf(socket: Socket): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'kSetNoDelay');
  return key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key];
}

async function socketOfOneRequest(
  listen: (handler: (req: IncomingMessage) => void) => Promise<{ port: number; close: () => void }>,
): Promise<Socket> {
  let seen: Socket | null = null;
  const { port, close } = await listen((req) => (seen = req.socket));
  await new Promise<void>((resolve, reject) =>
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject),
  );
  close();
  if (seen === null) throw new Error('no request reached the handler');
  return seen;
}

describe('MeshServer connections', () => {
  it("turn Nagle's algorithm off and leave a client's FIN to HTTP, as node's http.Server does", async () => {
    const reference = await socketOfOneRequest(async (handler) => {
      const server = createHttpServer((req, res) => {
        handler(req);
        res.end('ok');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { port: (server.address() as { port: number }).port, close: () => server.close() };
    });
    expect([noDelayOf(reference), reference.allowHalfOpen]).toEqual([true, true]);
    const certs = await certSourceFor('foo', 'httpbin');
    // PERMISSIVE (the first byte sniffed) and DISABLE (handed over at once).
    for (const mode of ['PERMISSIVE', 'DISABLE']) {
      const plan = planFor(httpbin('foo'), [
        {
          text: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec: { mtls: { mode: ${mode} } }`,
        },
      ]);
      const socket = await socketOfOneRequest(async (handler) => {
        const server = createMeshServer({
          handler: (req, res) => {
            handler(req);
            res.end('ok');
          },
          getPlan: () => plan,
          certs,
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        return { port: (server.address() as { port: number }).port, close: () => server.close() };
      });
      expect([mode, noDelayOf(socket), socket.allowHalfOpen]).toEqual([mode, true, true]);
    }
  });

  it('answer a response written in two pieces without waiting for a delayed ACK', async () => {
    const server = createMeshServer({
      handler: (_req, res) => {
        res.write('first piece');
        setTimeout(() => res.end('second piece'), 1);
      },
      getPlan: () => planFor(httpbin('foo')),
      certs: await certSourceFor('foo', 'httpbin'),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const started = performance.now();
    for (let i = 0; i < 10; i++) {
      const body = await new Promise<string>((resolve, reject) =>
        get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject),
      );
      expect(body).toBe('first piecesecond piece');
    }
    const elapsed = performance.now() - started;
    agent.destroy();
    server.close();
    // With Nagle's algorithm on, each of these requests waited ~40 ms (Linux's delayed
    // ACK) for its second piece: ~400 ms in all; ~16 ms without.
    expect(elapsed).toBeLessThan(200);
  });
});
