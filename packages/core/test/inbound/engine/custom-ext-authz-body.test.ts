import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExtensionProvider } from '../../../src/config/mesh-config.js';
import type { InboundEngine } from '../../../src/inbound/engine-types.js';
import { nodeConnectionOf, toInboundRequest } from '../../../src/inbound/node-request.js';
import {
  startExtAuthzGrpcServer,
  type CheckHandler,
  type ExtAuthzGrpcServer,
} from '../../helpers/ext-authz-grpc-server.js';
import { sendInParts } from '../../helpers/send-parts.js';
import { engineFor, planOf, sample } from './support.js';

// includeRequestBodyInCheck (istio/api EnvoyExternalAuthorizationRequestBody): the check
// carries the first maxRequestBytes of the body, and the application still reads all of it.
const CUSTOM = sample('authz/http/custom-simple-http-in.yaml');

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function grpcServer(
  handler: CheckHandler = () => ({ status: { code: 0 } }),
): Promise<ExtAuthzGrpcServer> {
  const s = await startExtAuthzGrpcServer(handler);
  closers.push(() => s.close());
  return s;
}

function engine(provider: ExtensionProvider): InboundEngine {
  const e = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider] } }));
  closers.push(() => e.close());
  return e;
}

const grpcProvider = (port: number, body: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'default',
  type: 'envoyExtAuthzGrpc',
  config: { service: '127.0.0.1', port, includeRequestBodyInCheck: body, ...extra },
});

/** A real node server deciding each request with `engine`, then reading the body as an app would. */
async function app(e: InboundEngine): Promise<{ port: number; appBodies: Buffer[] }> {
  const appBodies: Buffer[] = [];
  const server: Server = createServer((req, res) => {
    void e.decide(toInboundRequest(req, nodeConnectionOf(req.socket, null))).then(async (d) => {
      if (!d.allow) {
        res.writeHead(d.status, d.headers).end(d.body);
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      appBodies.push(Buffer.concat(chunks));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, appBodies };
}

const send = (port: number, path: string, parts: Buffer[], method = 'POST') =>
  sendInParts(port, parts, { path, method });

describe('CUSTOM includeRequestBodyInCheck', () => {
  it('sends the whole body when it fits, marks it not partial, and leaves it all to the app', async () => {
    const s = await grpcServer();
    const a = await app(engine(grpcProvider(s.port, { maxRequestBytes: 1024 })));
    const body = Buffer.from('{"order":42,"note":"héllo"}');
    expect(await send(a.port, '/httpbin1', [body])).toEqual({ status: 200, body: 'ok' });
    const http = s.seen[0]!.attributes.request.http;
    expect(http.body).toBe('{"order":42,"note":"héllo"}');
    expect(http.headers['x-envoy-auth-partial-body']).toBe('false');
    expect(a.appBodies[0]).toEqual(body);
  });

  it('sends raw_body bytes with packAsBytes', async () => {
    const s = await grpcServer();
    const a = await app(engine(grpcProvider(s.port, { maxRequestBytes: 1024, packAsBytes: true })));
    const body = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    expect((await send(a.port, '/httpbin1', [body])).status).toBe(200);
    const http = s.seen[0]!.attributes.request.http as unknown as { body: string; raw_body: Buffer };
    expect(Buffer.from(http.raw_body)).toEqual(body);
    expect(http.body).toBe('');
    expect(a.appBodies[0]).toEqual(body);
  });

  it('with allowPartialMessage, sends the first maxRequestBytes of a body that arrives in pieces', async () => {
    const s = await grpcServer();
    const a = await app(engine(grpcProvider(s.port, { maxRequestBytes: 8, allowPartialMessage: true })));
    const parts = [Buffer.from('abc'), Buffer.from('defghijkl'), Buffer.from('mnopqrstuvwxyz')];
    expect((await send(a.port, '/httpbin1', parts)).status).toBe(200);
    const http = s.seen[0]!.attributes.request.http;
    expect(http.body).toBe('abcdefgh');
    expect(http.headers['x-envoy-auth-partial-body']).toBe('true');
    expect(a.appBodies[0]!.toString()).toBe('abcdefghijklmnopqrstuvwxyz');
  });

  it('answers 413 before any check for a larger body without allowPartialMessage, even with failOpen', async () => {
    const s = await grpcServer();
    const a = await app(engine(grpcProvider(s.port, { maxRequestBytes: 8 }, { failOpen: true })));
    expect(await send(a.port, '/httpbin1', [Buffer.from('0123456789')])).toEqual({
      status: 413,
      body: 'Payload Too Large',
    });
    expect(s.seen).toHaveLength(0);
    // Exactly maxRequestBytes fits.
    expect((await send(a.port, '/httpbin1', [Buffer.from('01234567')])).status).toBe(200);
    expect(s.seen[0]!.attributes.request.http.body).toBe('01234567');
  });

  it('reads nothing for a request without a body, or one no CUSTOM rule matches', async () => {
    const s = await grpcServer();
    const a = await app(engine(grpcProvider(s.port, { maxRequestBytes: 8 })));
    expect((await send(a.port, '/httpbin1', [Buffer.alloc(0)], 'GET')).status).toBe(200);
    expect(s.seen[0]!.attributes.request.http.headers['x-envoy-auth-partial-body']).toBeUndefined();
    // Not checked, so not buffered: a body over the limit passes to the app untouched.
    expect((await send(a.port, '/elsewhere', [Buffer.from('0123456789')])).status).toBe(200);
    expect(a.appBodies.at(-1)!.toString()).toBe('0123456789');
    expect(s.seen).toHaveLength(1);
  });

  it('sends the body to an HTTP provider with the partial-body header', async () => {
    const seen: { body: string; partial: string | undefined }[] = [];
    const authz = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ body, partial: req.headers['x-envoy-auth-partial-body'] as string | undefined });
        res.statusCode = body.includes('forbidden') ? 403 : 200;
        res.end(res.statusCode === 403 ? 'no' : '');
      });
    });
    await new Promise<void>((r) => authz.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => authz.close(() => r())));
    const a = await app(
      engine({
        name: 'default',
        type: 'envoyExtAuthzHttp',
        config: {
          service: '127.0.0.1',
          port: (authz.address() as AddressInfo).port,
          includeRequestBodyInCheck: { maxRequestBytes: 64 },
        },
      }),
    );
    expect(await send(a.port, '/httpbin1', [Buffer.from('{"action":"read"}')])).toEqual({
      status: 200,
      body: 'ok',
    });
    expect(await send(a.port, '/httpbin1', [Buffer.from('{"action":"forbidden"}')])).toEqual({
      status: 403,
      body: 'no',
    });
    expect(seen).toEqual([
      { body: '{"action":"read"}', partial: 'false' },
      { body: '{"action":"forbidden"}', partial: 'false' },
    ]);
    expect(a.appBodies.map((b) => b.toString())).toEqual(['{"action":"read"}']);
  });
});
