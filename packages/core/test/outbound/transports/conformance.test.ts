import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TransportError, type Transport } from '../../../src/outbound/transport.js';
import { createGotTransport } from '../../../src/outbound/transports/got-transport.js';
import { createUndiciTransport } from '../../../src/outbound/transports/undici-transport.js';
import { transportRequest, text } from './support/request.js';
import { closedPort, httpServer, readBody, until, type Loopback } from './support/servers.js';

/**
 * [name, factory, most connections 8 sequential keep-alive requests may open]. undici's
 * Pool opens a second connection once, when a request arrives before the previous
 * client reported itself free; after that it reuses them (measured with bare undici).
 */
const TRANSPORTS: readonly [string, () => Transport, number][] = [
  ['got', createGotTransport, 1],
  ['undici', createUndiciTransport, 2],
];

describe.each(TRANSPORTS)('%s transport', (_name, create, keepAliveConnections) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const transport = (): Transport => {
    const t = create();
    cleanup.push(() => t.close());
    return t;
  };
  const server = async (handler: Parameters<typeof httpServer>[0]): Promise<Loopback> => {
    const s = await httpServer(handler);
    cleanup.push(() => s.close());
    return s;
  };

  it('round-trips status, repeated headers and body, sending the given host header', async () => {
    const s = await server((req, res) => {
      void readBody(req).then((body) => {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.setHeader('x-multi', ['one, two', 'three']);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            host: req.headers.host,
            tags: req.headersDistinct['x-tag'],
            body,
          }),
        );
      });
    });
    const t = transport();
    const res = await t.request(
      transportRequest(`http://127.0.0.1:${s.port}/reviews/1?x=y`, {
        method: 'POST',
        headers: { 'x-tag': ['red', 'blue'], 'content-type': 'text/plain' },
        body: Buffer.from('hello'),
      }),
    );
    expect(res.status).toBe(201);
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-multi']).toEqual(['one, two', 'three']);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(await text(res.body))).toEqual({
      method: 'POST',
      url: '/reviews/1?x=y',
      host: 'reviews.default.svc.cluster.local:9080',
      tags: ['red', 'blue'],
      body: 'hello',
    });
  });

  it('streams a request body and returns the response body undecoded', async () => {
    const zipped = gzipSync('compressed payload');
    const s = await server((req, res) => {
      void readBody(req).then((body) => {
        res.writeHead(200, { 'content-encoding': 'gzip', 'x-got': body });
        res.end(zipped);
      });
    });
    const body = new Readable({ read() {} });
    const t = transport();
    const pending = t.request(transportRequest(`http://127.0.0.1:${s.port}/upload`, { method: 'PUT', body }));
    body.push('part-1;');
    setImmediate(() => {
      body.push('part-2');
      body.push(null);
    });
    const res = await pending;
    expect(res.headers['x-got']).toBe('part-1;part-2');
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(zipped)).toBe(true);
  });

  it('returns a redirect as a response instead of following it', async () => {
    const s = await server((req, res) => {
      if (req.url === '/next') res.end('followed');
      else res.writeHead(302, { location: '/next' }).end('moved');
    });
    const res = await transport().request(transportRequest(`http://127.0.0.1:${s.port}/start`));
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('/next');
    expect(await text(res.body)).toBe('moved');
  });

  it('fails with connect-failure before sending when the port is closed', async () => {
    const port = await closedPort();
    const err = await transport()
      .request(transportRequest(`http://127.0.0.1:${port}/`))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('connect-failure');
    expect((err as TransportError).beforeRequestSent).toBe(true);
  });

  it('fails with a reset after sending when the server drops the connection mid-request', async () => {
    let seen = 0;
    const s = await server((req) => {
      seen++;
      req.socket.destroy();
    });
    const err = await transport()
      .request(transportRequest(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: Buffer.from('x') }))
      .catch((e: unknown) => e);
    expect(seen).toBe(1);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('reset');
    expect((err as TransportError).beforeRequestSent).toBe(false);
  });

  it('rejects with aborted before any request when the signal is already aborted', async () => {
    let seen = 0;
    const s = await server((_req, res) => {
      seen++;
      res.end();
    });
    const ac = new AbortController();
    ac.abort();
    const err = await transport()
      .request(transportRequest(`http://127.0.0.1:${s.port}/`, { signal: ac.signal }))
      .catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('aborted');
    expect(seen).toBe(0);
  });

  it('ends the body with an aborted error and closes the connection when aborted mid-body', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200);
      res.write('first chunk');
    });
    const ac = new AbortController();
    const t = transport();
    const res = await t.request(transportRequest(`http://127.0.0.1:${s.port}/`, { signal: ac.signal }));
    const first = await new Promise<string>((resolve) =>
      res.body.once('data', (c: Buffer) => resolve(String(c))),
    );
    expect(first).toBe('first chunk');
    const failed = new Promise<unknown>((resolve) => res.body.once('error', resolve));
    ac.abort();
    const err = await failed;
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).failure).toBe('aborted');
    // The aborted connection is closed (undici then opens a fresh idle one for the pool).
    await until(() => s.sockets[0]!.destroyed);
  });

  it('reuses keep-alive connections for sequential requests', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const t = transport();
    for (let i = 0; i < 8; i++) {
      const res = await t.request(transportRequest(`http://127.0.0.1:${s.port}/`));
      expect(await text(res.body)).toBe('ok');
    }
    expect(s.sockets.length).toBeLessThanOrEqual(keepAliveConnections);
  });

  it.each([
    [1, 4],
    [2, 2],
    [3, 2],
    [4, 1],
  ])(
    'opens a new connection after maxRequestsPerConnection %i (4 requests → %i connections)',
    async (limit, connections) => {
      const s = await server((_req, res) => res.end('ok'));
      const t = transport();
      for (let i = 0; i < 4; i++) {
        // maxConnections 1 keeps undici from opening a spare connection (see above).
        const res = await t.request(
          transportRequest(`http://127.0.0.1:${s.port}/`, {
            maxRequestsPerConnection: limit,
            maxConnections: 1,
          }),
        );
        await text(res.body);
      }
      expect(s.sockets).toHaveLength(connections);
    },
  );

  it('serves two slow requests one after the other on one socket under maxConnections 1', async () => {
    const spans: { start: number; end: number }[] = [];
    const s = await server((_req, res) => {
      const start = performance.now();
      setTimeout(() => {
        spans.push({ start, end: performance.now() });
        res.end('slow');
      }, 60);
    });
    const t = transport();
    const call = async (): Promise<string> =>
      text((await t.request(transportRequest(`http://127.0.0.1:${s.port}/`, { maxConnections: 1 }))).body);
    expect(await Promise.all([call(), call()])).toEqual(['slow', 'slow']);
    expect(s.sockets).toHaveLength(1);
    const [a, b] = spans as [{ start: number; end: number }, { start: number; end: number }];
    expect(b.start).toBeGreaterThanOrEqual(a.end);
  });

  it('serves two slow requests in parallel on two sockets under maxConnections 2', async () => {
    let active = 0;
    let peak = 0;
    const s = await server((_req, res) => {
      peak = Math.max(peak, ++active);
      setTimeout(() => {
        active--;
        res.end('slow');
      }, 60);
    });
    const t = transport();
    const call = async (): Promise<string> =>
      text((await t.request(transportRequest(`http://127.0.0.1:${s.port}/`, { maxConnections: 2 }))).body);
    await Promise.all([call(), call()]);
    expect(peak).toBe(2);
    expect(s.sockets).toHaveLength(2);
  });

  it('sends no request on a connection older than maxConnectionDuration', async () => {
    const used: Socket[] = [];
    const s = await server((req, res) => {
      used.push(req.socket);
      res.end('ok');
    });
    const t = transport();
    const call = async (): Promise<string> =>
      text(
        (
          await t.request(
            transportRequest(`http://127.0.0.1:${s.port}/`, {
              maxConnections: 1,
              maxConnectionDurationMs: 300,
            }),
          )
        ).body,
      );
    await call();
    await call();
    expect(used[1]).toBe(used[0]);
    await new Promise((r) => setTimeout(r, 400));
    await call();
    expect(used[2]).not.toBe(used[0]);
    expect(s.sockets).toHaveLength(2);
  });

  it('lets a request in flight finish when its connection expires, and sends the next on a new one', async () => {
    const used: Socket[] = [];
    const s = await server((req, res) => {
      used.push(req.socket);
      setTimeout(() => res.end('slow'), used.length === 1 ? 300 : 0);
    });
    const t = transport();
    const call = async (): Promise<string> =>
      text(
        (
          await t.request(
            transportRequest(`http://127.0.0.1:${s.port}/`, {
              maxConnections: 1,
              maxConnectionDurationMs: 100,
            }),
          )
        ).body,
      );
    expect(await call()).toBe('slow');
    expect(await call()).toBe('slow');
    expect(used[1]).not.toBe(used[0]);
  });

  it('closes an idle connection when it reaches maxConnectionDuration, as Envoy does', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const t = transport();
    const res = await t.request(
      transportRequest(`http://127.0.0.1:${s.port}/`, { maxConnectionDurationMs: 150 }),
    );
    expect(await text(res.body)).toBe('ok');
    await until(() => s.sockets.length > 0 && s.open() > 0);
    await until(() => s.open() === 0, 2_000);
  });

  it('starts TCP keep-alive probes after tcpKeepalive.time', async () => {
    const keepAlive = vi.spyOn(Socket.prototype, 'setKeepAlive');
    try {
      const s = await server((_req, res) => res.end('ok'));
      const t = transport();
      await text((await t.request(transportRequest(`http://127.0.0.1:${s.port}/`))).body);
      expect(keepAlive).not.toHaveBeenCalledWith(true, 7_000);
      await text(
        (
          await t.request(
            transportRequest(`http://127.0.0.1:${s.port}/`, { poolKey: 'ka', keepaliveTimeMs: 7_000 }),
          )
        ).body,
      );
      expect(keepAlive).toHaveBeenCalledWith(true, 7_000);
    } finally {
      keepAlive.mockRestore();
    }
  });

  it('leaves no connection open after close()', async () => {
    const s = await server((_req, res) => res.end('ok'));
    const t = create();
    await text((await t.request(transportRequest(`http://127.0.0.1:${s.port}/a`))).body);
    await text(
      (await t.request(transportRequest(`http://127.0.0.1:${s.port}/b`, { poolKey: 'other' }))).body,
    );
    expect(s.open()).toBe(2);
    await t.close();
    await until(() => s.open() === 0);
    const err = await t.request(transportRequest(`http://127.0.0.1:${s.port}/`)).catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('connect-failure');
  });
});
