import { constants as osConstants } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { createOutboundClient } from '../../../src/outbound/client.js';
import { createFakeClusters } from './support/fake-clusters.js';
import { createHttpTransport } from './support/http-transport.js';
import { planOf } from './support/setup.js';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

describe('outbound client over a real loopback server', () => {
  let server: http.Server;
  let port = 0;
  let closedPort = 0;
  let handler: Handler = (_req, body, res) => res.end(body);
  const closedEarly: string[] = [];
  const transport = createHttpTransport();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
      res.on('close', () => {
        if (!res.writableFinished) closedEarly.push(req.url ?? '');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  afterAll(async () => {
    await transport.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function client(extra = '') {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - route: [{ destination: { host: echo } }]
${extra}`;
    const plan = planOf([yaml], {
      echo: [{ address: '127.0.0.1', port }],
      dead: [{ address: '127.0.0.1', port: closedPort }],
    });
    return createOutboundClient({
      getPlan: () => plan,
      clusters: createFakeClusters(),
      transport,
      clock: systemClock,
      random: seededRandom(1),
    });
  }

  it('sends method, body and mesh headers and returns the upstream response with res.meshlet', async () => {
    handler = (req, body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: req.method,
          body,
          attempt: req.headers['x-envoy-attempt-count'],
          host: req.headers.host,
        }),
      );
    };
    const res = await client().fetch(`http://echo:${port}/items?x=1`, {
      method: 'PUT',
      body: Readable.from(['str', 'eam']),
      headers: new Headers({ 'x-user': 'a' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Number(res.headers.get('x-envoy-upstream-service-time'))).toBeGreaterThanOrEqual(0);
    expect(await res.json()).toEqual({ method: 'PUT', body: 'stream', attempt: '1', host: `echo:${port}` });
    expect(res.meshlet.upstream).toEqual({
      host: 'echo.default.svc.cluster.local',
      subset: null,
      address: `127.0.0.1:${port}`,
      cluster: `outbound|${port}||echo.default.svc.cluster.local`,
    });
    // The default route retries connect failures; a stream body cannot be replayed.
    expect(res.meshlet.retriesDisabled).toBe('body-not-replayable');
  });

  it('retries a real 503 under retryOn 5xx and returns the second answer', async () => {
    let n = 0;
    handler = (_req, _body, res) => {
      res.statusCode = n++ === 0 ? 503 : 200;
      res.end(`try ${n}`);
    };
    const res = await client('    retries: { attempts: 2, retryOn: 5xx }\n').fetch(`http://echo:${port}/`, {
      body: 'b',
    });
    expect([res.status, await res.text(), res.meshlet.attempts]).toEqual([200, 'try 2', 2]);
  });

  it('answers 503 UF with URX after retrying a refused connection', async () => {
    const res = await client().fetch(`http://dead:${closedPort}/`);
    expect([res.status, res.meshlet.flags, res.meshlet.attempts]).toEqual([503, ['UF', 'URX'], 3]);
    // Envoy's router body (http/utility.cc resetReasonToString) with the connection's
    // transport failure reason: the refused connect's errno (111 on Linux).
    expect(await res.text()).toBe(
      `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: ${osConstants.errno.ECONNREFUSED}`,
    );
  });

  it('cancels the real request at the route timeout so the server sees the socket close', async () => {
    handler = () => {
      // never answers
    };
    // A route timeout: the sidecar strips an app-sent x-envoy-upstream-rq-timeout-ms.
    const res = await client('    timeout: 50ms\n').fetch(`http://echo:${port}/hang`);
    expect([res.status, await res.text(), res.meshlet.flags]).toEqual([
      504,
      'upstream request timeout',
      ['UT'],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(closedEarly).toContain('/hang');
  });

  it('leaves no socket busy after bodies are read or discarded', async () => {
    let n = 0;
    handler = (_req, _body, res) => {
      res.statusCode = n++ % 2 === 0 ? 503 : 200;
      res.end('x'.repeat(10_000));
    };
    const c = client('    retries: { attempts: 1, retryOn: 5xx }\n');
    for (let i = 0; i < 5; i++) {
      const res = await c.fetch(`http://echo:${port}/`);
      expect([res.status, (await res.text()).length]).toEqual([200, 10_000]);
    }
    await new Promise((r) => setTimeout(r, 20));
    const busy = Object.values(transport.agent.sockets).reduce((s, list) => s + (list?.length ?? 0), 0);
    expect(busy).toBe(0);
  });
});
