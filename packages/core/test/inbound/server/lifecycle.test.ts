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
