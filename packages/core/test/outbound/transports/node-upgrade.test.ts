import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../../src/outbound/transport.js';
import { sendUpgrade } from '../../../src/outbound/transports/node-upgrade.js';
import { transportRequest, text } from './support/request.js';
import { closedPort, httpServer, type Loopback } from './support/servers.js';

// An upgrade request on a connection of its own (node-upgrade.ts), as the pooled transports'
// `upgrade`: the switch hands the connection over, anything else is a plain response, and
// failures are the transports' TransportErrors.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function server(s: Promise<Loopback>): Promise<Loopback> {
  const l = await s;
  cleanup.push(() => l.close());
  return l;
}

describe('sendUpgrade', () => {
  it('asks to switch with Connection: Upgrade and the token, and hands over the connection on a 101', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const l = await server(httpServer(() => {}));
    l.server.on('upgrade', (req, socket) => {
      seen.push({ ...req.headers, url: req.url });
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly',
      );
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    });
    const res = await sendUpgrade({
      ...transportRequest(`http://127.0.0.1:${l.port}/ws?room=1`, { headers: { 'x-tag': 'a' } }),
      upgrade: 'websocket',
    });
    expect(res.status).toBe(101);
    expect(res.headers['upgrade']).toBe('websocket');
    expect(seen[0]).toMatchObject({
      url: '/ws?room=1',
      connection: 'Upgrade',
      upgrade: 'websocket',
      'x-tag': 'a',
      host: 'reviews.default.svc.cluster.local:9080',
    });
    const up = res.upgraded!;
    expect(up.head.toString()).toBe('early');
    const echoed = new Promise<string>((resolve) =>
      up.socket.once('data', (d: Buffer) => resolve(d.toString())),
    );
    up.socket.write('ping');
    expect(await echoed).toBe('echo:ping');
    up.socket.destroy();
  });

  it('resolves any other answer as a plain response with its body', async () => {
    const l = await server(
      httpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' });
        res.end('upgrade required');
      }),
    );
    const res = await sendUpgrade({
      ...transportRequest(`http://127.0.0.1:${l.port}/`),
      upgrade: 'websocket',
    });
    expect(res.status).toBe(426);
    expect(res.upgraded).toBeUndefined();
    expect(await text(res.body)).toBe('upgrade required');
  });

  it('fails a refused connection as connect-failure, before anything was sent', async () => {
    const port = await closedPort();
    const err = await sendUpgrade({
      ...transportRequest(`http://127.0.0.1:${port}/`),
      upgrade: 'websocket',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('connect-failure');
    expect((err as TransportError).beforeRequestSent).toBe(true);
  });

  it('fails a connection reset before the answer as reset, after the request was sent', async () => {
    const raw = createNetServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => raw.close(() => r())));
    const port = (raw.address() as AddressInfo).port;
    const err = await sendUpgrade({
      ...transportRequest(`http://127.0.0.1:${port}/`),
      upgrade: 'websocket',
    }).catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('reset');
    expect((err as TransportError).beforeRequestSent).toBe(false);
  });

  it('aborts with the signal while it waits for the answer', async () => {
    const l = await server(httpServer(() => {}));
    l.server.on('upgrade', () => {});
    const ctl = new AbortController();
    const pending = sendUpgrade({
      ...transportRequest(`http://127.0.0.1:${l.port}/`, { signal: ctl.signal }),
      upgrade: 'websocket',
    });
    ctl.abort(new Error('route timeout'));
    const err = await pending.catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('aborted');
  });
});
