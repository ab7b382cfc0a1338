import { writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMesh, type Mesh, type Transport } from '../../packages/core/src/index.js';
import { createGotTransport } from '../../packages/core/src/outbound/transports/got-transport.js';
import { createManualClock, type ManualClock } from '../../packages/core/src/runtime/clock.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { useDevCa } from '../support/dev-ca.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { requestsTotal, type ObservedHttpbin } from '../support/observed-httpbin.js';
import { startChatService, type ChatService } from '../support/chat-service.js';
import { converse, opened, refusedWith } from '../support/ws-client.js';

// A WebSocket through Istio's ingress gateway: every connection manager istiod builds allows
// `websocket` upgrades (listener_builder.go UpgradeConfigs), so the gateway routes the upgrade
// request by its VirtualService like any request (rewrite, header operations, its own
// AuthorizationPolicy first), sends it to the service over mTLS, relays the 101 and then the
// frames both ways. It reports the stream once, when a side closes (reporter `source`: a
// gateway's telemetry is the client side's), as the service's sidecar reports its half. Real
// `ws` clients and servers, a real STRICT mTLS service behind mesh.listen, real loopback.

const tmp = useTmpDir();
const ca = useDevCa(tmp);
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const HOST = { host: 'chat.example.com' };
const HTTPBIN = 'httpbin.foo.svc.cluster.local';
const GATEWAY_PRINCIPAL = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

const GATEWAY_CONFIG = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: chat-gateway, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: chat, namespace: istio-system }
spec:
  hosts: ["chat.example.com"]
  gateways: [chat-gateway]
  http:
  - match: [{ uri: { prefix: /chat } }]
    rewrite: { uri: /ws }
    headers:
      request: { set: { x-routed: chat } }
      response: { set: { x-gateway-route: chat } }
    route:
    - destination: { host: ${HTTPBIN}, port: { number: 8000 } }
  - match: [{ uri: { prefix: /hang } }, { uri: { prefix: /timed } }]
    timeout: 1s
    route:
    - destination: { host: ${HTTPBIN}, port: { number: 8000 } }
  - route:
    - destination: { host: ${HTTPBIN}, port: { number: 8000 } }
---
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000, targetPort: 80 }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/chat/admin"] } }] }]
`;

/** httpbin in foo, STRICT mTLS, echoing WebSockets (chat-service.ts). */
const chatService = (): Promise<ChatService> => startChatService(tmp, ca, closers);

interface Gateway {
  readonly mesh: Mesh;
  readonly port: number;
  readonly registry: Registry;
  readonly log: string[];
}

/** The ingress gateway routing chat.example.com to `service`, its metrics and JSON access log kept. */
async function gateway(
  service: ObservedHttpbin,
  clock?: ManualClock,
  transport?: Transport,
): Promise<Gateway> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'gateway.yaml'), GATEWAY_CONFIG);
  const registry = new Registry();
  const log: string[] = [];
  const mesh = await createMesh({
    workload: {
      name: 'istio-ingressgateway',
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
    },
    config: dir,
    certs: await ca.certsFor('istio-ingressgateway-service-account', 'istio-system'),
    endpoints: {
      [HTTPBIN]: [
        {
          address: '127.0.0.1',
          port: service.port,
          labels: { app: 'httpbin', 'security.istio.io/tlsMode': 'istio' },
          serviceAccount: 'httpbin',
        },
      ],
    },
    meshConfig: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' },
    telemetry: { registry, otlp: false, accessLogSink: { stream: lineCollector(log) } },
    ...(clock === undefined ? {} : { clock }),
    ...(transport === undefined ? {} : { transport }),
  });
  closers.push(() => mesh.close());
  const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
  closers.push(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { mesh, port: (server.address() as AddressInfo).port, registry, log };
}

const lineOf = (log: string[], i = 0): Record<string, unknown> =>
  JSON.parse(log[i]!) as Record<string, unknown>;

/** Sends `raw` on a new connection; resolves with everything the gateway sent until it closed. */
function rawExchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

describe('a WebSocket through the ingress gateway', () => {
  it('is routed as Istio routes it, over mTLS: rewritten path, edge headers, route header operations', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    await converse(gw.port, 'close', '/chat', 'hello through the gateway', HOST);
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.url).toBe('/ws');
    expect(req.headers['upgrade']).toBe('websocket');
    expect(req.headers['x-routed']).toBe('chat');
    expect(req.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(req.headers['x-envoy-external-address']).toBe('127.0.0.1');
    expect(req.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The service's STRICT listener verified the gateway's certificate.
    const meshlet = (req as IncomingMessage & { meshlet?: { peer: { principal: string } | null } }).meshlet;
    expect(meshlet?.peer?.principal).toBe(GATEWAY_PRINCIPAL.slice('spiffe://'.length));
  });

  it('relays the 101 with the route’s response headers and the gateway’s server name', async () => {
    const { s } = await chatService();
    const gw = await gateway(s);
    const res = await opened(gw.port, '/chat', HOST);
    expect(res.statusCode).toBe(101);
    expect(res.headers['x-gateway-route']).toBe('chat');
    expect(res.headers['server']).toBe('istio-envoy');
    expect(res.headers['connection']).toBe('Upgrade');
    expect(res.headers['upgrade']).toBe('websocket');
  });

  it('reports one 101 stream when the service closes after the close frame (UC), with the bytes its sidecar counted', async () => {
    const { s } = await chatService();
    const gw = await gateway(s);
    await converse(gw.port, 'close', '/chat', 'x'.repeat(300), HOST);
    await linesBeyond(gw.log, 0);
    await linesBeyond(s.log, 0);
    const line = lineOf(gw.log);
    const service = lineOf(s.log);
    expect(line['response_code']).toBe(101);
    expect(line['response_flags']).toBe('UC');
    expect(line['response_code_details']).toBe(
      'upstream_reset_after_response_started{connection_termination}',
    );
    expect(line['upstream_cluster']).toBe(`outbound|8000||${HTTPBIN}`);
    expect(service['response_code']).toBe(101);
    // The frames each way, as the service's sidecar counted them off the same connection.
    expect(line['bytes_received']).toBe(service['bytes_received']);
    expect(line['bytes_sent']).toBe(service['bytes_sent']);
    expect(line['bytes_received']).toBeGreaterThan(300);
    expect(line['bytes_sent']).toBeGreaterThan(300);
    const series = (await requestsTotal(gw.registry)).filter((r) => r.labels['response_code'] === '101');
    expect(series).toHaveLength(1);
    expect(series[0]!.value).toBe(1);
    expect(series[0]!.labels).toMatchObject({
      reporter: 'source',
      response_flags: 'UC',
      destination_principal: 'spiffe://cluster.local/ns/foo/sa/httpbin',
      destination_service: HTTPBIN,
    });
    const seenByService = (await requestsTotal(s.registry)).find((r) => r.labels['response_code'] === '101');
    expect(seenByService?.labels['source_principal']).toBe(GATEWAY_PRINCIPAL);
  });

  it('reports DC when the client drops the connection, and closes the service’s connection', async () => {
    const { s } = await chatService();
    const gw = await gateway(s);
    await converse(gw.port, 'terminate', '/chat', 'bye', HOST);
    await linesBeyond(gw.log, 0);
    await linesBeyond(s.log, 0);
    expect(lineOf(gw.log)['response_flags']).toBe('DC');
    expect(lineOf(gw.log)['response_code_details']).toBe('downstream_remote_disconnect');
    // The gateway closing its upstream connection is the client going away, for the service.
    expect(lineOf(s.log)['response_flags']).toBe('DC');
  });

  it('answers an upgrade its own AuthorizationPolicy denies, and the service never hears of it', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    const refused = await refusedWith(gw.port, '/chat/admin', HOST);
    expect(refused.status).toBe(403);
    await linesBeyond(gw.log, 0);
    expect(lineOf(gw.log)['response_code']).toBe(403);
    expect(seen).toHaveLength(0);
  });

  it('relays the service’s refusal as a plain response, then closes the connection', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    const refused = await refusedWith(gw.port, '/refuse', HOST);
    expect(refused.status).toBe(401);
    expect(seen).toHaveLength(1);
    await linesBeyond(gw.log, 0);
    expect(lineOf(gw.log)).toMatchObject({ response_code: 401, response_flags: '-' });
  });

  it('relays what the service sent with its 101 in one write, and counts it', async () => {
    const { s } = await chatService();
    const gw = await gateway(s);
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/greet`, { headers: HOST });
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('message', (m: Buffer) => resolve(m.toString()));
      ws.on('error', reject);
    });
    expect(first).toBe('welcome');
    ws.close();
    await linesBeyond(gw.log, 0);
    await linesBeyond(s.log, 0);
    expect(lineOf(gw.log)['bytes_sent']).toBe(lineOf(s.log)['bytes_sent']);
    expect(lineOf(gw.log)['bytes_sent']).toBeGreaterThanOrEqual('welcome'.length + 2);
  });

  it('keeps a WebSocket open past its route’s timeout: the timeout ends with the 101', async () => {
    const { s } = await chatService();
    const clock = createManualClock(Date.now());
    const gw = await gateway(s, clock);
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/timed`, { headers: HOST });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    await clock.advance(5000);
    const echoed = new Promise<string>((resolve) => ws.on('message', (m: Buffer) => resolve(m.toString())));
    ws.send('still here');
    expect(await echoed).toBe('still here');
    ws.close();
    await new Promise((resolve) => ws.on('close', resolve));
  });

  it('times the route’s timeout out while it waits for the 101', async () => {
    const { s } = await chatService();
    const clock = createManualClock(Date.now());
    const gw = await gateway(s, clock);
    const refused = refusedWith(gw.port, '/hang', HOST);
    // The upgrade request reached the service, which keeps it waiting.
    await expect.poll(() => clock.pending()).toBeGreaterThan(0);
    await clock.advance(1000);
    expect((await refused).status).toBe(504);
    await linesBeyond(gw.log, 0);
    expect(lineOf(gw.log)).toMatchObject({ response_code: 504, response_flags: 'UT' });
  });

  it('refuses an upgrade to another protocol, 403 upgrade_failed, as Istio’s connection managers allow websocket only', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    const answer = await rawExchange(
      gw.port,
      'GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nConnection: Upgrade\r\nUpgrade: spdy/3\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(answer).toMatch(/\r\ncontent-length: 0\r\n/i);
    await linesBeyond(gw.log, 0);
    expect(lineOf(gw.log)).toMatchObject({ response_code: 403, response_code_details: 'upgrade_failed' });
    expect(seen).toHaveLength(0);
    expect(s.handled()).toBe(0);
  });

  it('serves an h2c upgrade request as a plain HTTP/1.1 one, body included, as Envoy’s codec does', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    const h2c =
      'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';
    const get = await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: chat.example.com\r\n${h2c}\r\n`);
    expect(get).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(get.endsWith('\r\n\r\nok')).toBe(true);
    const post = await rawExchange(
      gw.port,
      `POST / HTTP/1.1\r\nHost: chat.example.com\r\n${h2c}Content-Length: 5\r\n\r\nhello`,
    );
    expect(post).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(post.endsWith('\r\n\r\nposted')).toBe(true);
    expect(s.handled()).toBe(2);
    expect(seen).toHaveLength(0);
  });
});

describe('a transport that carries no upgrade', () => {
  it('refuses a WebSocket at the gateway, 403 upgrade_failed, as a connection manager without the upgrade', async () => {
    const { s, seen } = await chatService();
    const got = createGotTransport();
    const plain: Transport = { name: 'plain', request: (r) => got.request(r), close: () => got.close() };
    const gw = await gateway(s, undefined, plain);
    const answer = await rawExchange(
      gw.port,
      'GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    await linesBeyond(gw.log, 0);
    expect(lineOf(gw.log)).toMatchObject({ response_code: 403, response_code_details: 'upgrade_failed' });
    expect(seen).toHaveLength(0);
  });
});

describe('mesh.close() with WebSockets open through the gateway', () => {
  it('closes them, and does not wait for their clients to go', async () => {
    const { s } = await chatService();
    const gw = await gateway(s);
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/chat`, { headers: HOST });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const clientClosed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await gw.mesh.close();
    // Dropped, no close frame: 1006.
    expect(await clientClosed).toBe(1006);
  });
});

describe('mesh.gateway() on the application’s own server', () => {
  it('proxies WebSockets through `listener.upgrade`', async () => {
    const { s, seen } = await chatService();
    const gw = await gateway(s);
    const listener = gw.mesh.gateway();
    const server = http.createServer(listener);
    server.on('upgrade', listener.upgrade);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    await converse((server.address() as AddressInfo).port, 'close', '/chat', 'own server', HOST);
    expect(seen.map((r) => r.url)).toEqual(['/ws']);
  });
});
