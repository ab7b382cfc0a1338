import { writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import path from 'node:path';
import { Registry } from 'prom-client';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMesh, MeshletError, type Mesh } from '../../packages/core/src/index.js';
import { lineCollector, linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { startChatService, type ChatService } from '../support/chat-service.js';
import { useDevCa } from '../support/dev-ca.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { requestsTotal, TRACE_ALL } from '../support/observed-httpbin.js';

// mesh.createConnection: the sidecar's outbound HTTP listener in process, for the clients that
// take a connection rather than a URL (node's http.request, the `ws` client). Behind a sidecar
// an application's plaintext request to a service, a WebSocket upgrade included, is routed,
// sent over mTLS and reported by the sidecar (every connection manager istiod builds allows
// `websocket` upgrades, listener_builder.go). Here the same client code runs with
// `createConnection: mesh.createConnection`, against a real STRICT service on loopback.

const tmp = useTmpDir();
const ca = useDevCa(tmp);
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const HTTPBIN = 'httpbin.foo.svc.cluster.local';
const SLEEP_PRINCIPAL = 'spiffe://cluster.local/ns/foo/sa/sleep';

const CLIENT_CONFIG = `apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec:
  selector: { app: httpbin }
  ports: [{ name: http, port: 8000, targetPort: 80 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: [httpbin]
  http:
  - headers:
      request: { set: { x-routed: sidecar } }
      response: { set: { x-sidecar-route: httpbin } }
    route:
    - destination: { host: httpbin }
`;

interface Client {
  readonly mesh: Mesh;
  readonly registry: Registry;
  readonly log: string[];
  /** Every span, when the mesh traces every request (`traced`). */
  readonly spans: InMemorySpanExporter;
}

/** sleep in foo: the calling workload, its metrics, JSON access log and (when `traced`) spans kept. */
async function sleepMesh(service: ChatService, traced = false): Promise<Client> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'client.yaml'), CLIENT_CONFIG);
  if (traced) await writeFile(path.join(dir, 'trace.yaml'), TRACE_ALL);
  const registry = new Registry();
  const log: string[] = [];
  const spans = new InMemorySpanExporter();
  const mesh = await createMesh({
    workload: { name: 'sleep', namespace: 'foo', serviceAccount: 'sleep', labels: { app: 'sleep' } },
    config: dir,
    certs: await ca.certsFor('sleep', 'foo'),
    endpoints: {
      [HTTPBIN]: [
        {
          address: '127.0.0.1',
          port: service.s.port,
          labels: { app: 'httpbin', 'security.istio.io/tlsMode': 'istio' },
          serviceAccount: 'httpbin',
        },
      ],
    },
    meshConfig: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' },
    telemetry: {
      registry,
      otlp: false,
      accessLogSink: { stream: lineCollector(log) },
      spanProcessors: [new SimpleSpanProcessor(spans)],
    },
  });
  closers.push(() => mesh.close());
  return { mesh, registry, log, spans };
}

const chatService = (): Promise<ChatService> => startChatService(tmp, ca, closers);
const lineOf = (log: string[], i = 0): Record<string, unknown> =>
  JSON.parse(log[i]!) as Record<string, unknown>;

/**
 * A `ws` client through the mesh: sends `text`, waits for the echo, then closes as `close`
 * says; `drop` sends `drop` instead, which the service answers by dropping the connection.
 */
function converseThrough(
  mesh: Mesh,
  close: 'close' | 'terminate' | 'drop',
  text: string,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://httpbin.foo:8000/ws', {
      createConnection: mesh.createConnection,
      perMessageDeflate: false,
    });
    let switched: IncomingMessage | null = null;
    ws.on('upgrade', (res) => (switched = res));
    ws.on('open', () => ws.send(close === 'drop' ? 'drop' : text));
    ws.on('message', (m: Buffer) => {
      expect(m.toString()).toBe(text);
      if (close === 'close') ws.close(1000);
      else ws.terminate();
    });
    ws.on('close', () => resolve(switched!));
    ws.on('error', reject);
  });
}

/** `GET`/`POST` with node's http client on a mesh connection; resolves with status, headers and body. */
function request(
  options: http.RequestOptions,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('mesh.createConnection: a WebSocket client through the sidecar', () => {
  it('opens a WebSocket to a STRICT service: routed, over mTLS, the 101 with the route’s headers', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    const switched = await converseThrough(client.mesh, 'close', 'hello through the sidecar');
    expect(switched.statusCode).toBe(101);
    expect(switched.headers['x-sidecar-route']).toBe('httpbin');
    expect(switched.headers['server']).toBe('envoy');
    const seen = service.seen[0]!;
    expect(seen.url).toBe('/ws');
    expect(seen.headers['x-routed']).toBe('sidecar');
    expect(seen.headers['host']).toBe('httpbin.foo:8000');
    const meshlet = (seen as IncomingMessage & { meshlet?: { peer: { principal: string } | null } }).meshlet;
    expect(meshlet?.peer?.principal).toBe(SLEEP_PRINCIPAL.slice('spiffe://'.length));
  });

  it('is reported once by the source, 101 UC after the service dropped it, with the bytes the service counted', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    await converseThrough(client.mesh, 'close', 'y'.repeat(200));
    await linesBeyond(client.log, 0);
    await converseThrough(client.mesh, 'drop', '');
    await linesBeyond(client.log, 1);
    await linesBeyond(service.s.log, 1);
    const line = lineOf(client.log, 1);
    expect(line).toMatchObject({
      response_code: 101,
      response_flags: 'UC',
      upstream_cluster: `outbound|8000||${HTTPBIN}`,
    });
    const theirs = lineOf(service.s.log, 1);
    expect(line['bytes_received']).toBe(theirs['bytes_received']);
    expect(line['bytes_sent']).toBe(theirs['bytes_sent']);
    expect(line['bytes_received']).toBeGreaterThan(0);
    // The first conversation's, echoed and closed: every byte each way counted too.
    expect(lineOf(client.log)['bytes_received']).toBe(lineOf(service.s.log)['bytes_received']);
    expect(lineOf(client.log)['bytes_received']).toBeGreaterThan(200);
    const series = (await requestsTotal(client.registry)).filter(
      (r) => r.labels['response_code'] === '101' && r.labels['response_flags'] === 'UC',
    );
    expect(series.map((r) => r.value)).toEqual([1]);
    expect(series[0]!.labels).toMatchObject({
      reporter: 'source',
      response_flags: 'UC',
      source_principal: SLEEP_PRINCIPAL,
      destination_principal: 'spiffe://cluster.local/ns/foo/sa/httpbin',
    });
  });

  it('reports DC when the application drops the WebSocket, and the service sees its client go', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    await converseThrough(client.mesh, 'terminate', 'bye');
    await linesBeyond(client.log, 0);
    await linesBeyond(service.s.log, 0);
    expect(lineOf(client.log)).toMatchObject({
      response_flags: 'DC',
      response_code_details: 'downstream_remote_disconnect',
    });
    expect(lineOf(service.s.log)['response_flags']).toBe('DC');
  });

  it('is what a plain client lacks: the STRICT service closes a connection without a certificate', async () => {
    const service = await chatService();
    const plain = new WebSocket(`ws://127.0.0.1:${service.s.port}/ws`);
    const outcome = await new Promise<string>((resolve) => {
      plain.on('open', () => resolve('open'));
      plain.on('error', (err) => resolve(err.message));
    });
    expect(outcome).not.toBe('open');
    expect(service.seen).toHaveLength(0);
  });

  it('refuses an upgrade to another protocol, 403 upgrade_failed, reported by the source', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    const r = await request({
      host: 'httpbin.foo',
      port: 8000,
      path: '/ws',
      headers: { connection: 'Upgrade', upgrade: 'spdy/3' },
      createConnection: client.mesh.createConnection,
    });
    expect(r.status).toBe(403);
    await linesBeyond(client.log, 0);
    expect(lineOf(client.log)).toMatchObject({ response_code: 403, response_code_details: 'upgrade_failed' });
    expect(service.seen).toHaveLength(0);
  });
});

describe('mesh.createConnection: node’s http client through the sidecar', () => {
  it('continues the trace of the request whose handler writes on the connection, without code', async () => {
    const service = await chatService();
    const { mesh, spans } = await sleepMesh(service, true);
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/call', (_req, res) => {
      void request({
        host: 'httpbin.foo',
        port: 8000,
        path: '/',
        createConnection: mesh.createConnection,
      }).then((r) => res.send(`called: ${r.body}`));
    });
    const server = await mesh.listen(app, 0, '127.0.0.1');
    const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/call`);
    expect(await answer.text()).toBe('called: ok');
    const finished = spans.getFinishedSpans();
    const inbound = finished.find((x) => x.kind === SpanKind.SERVER);
    const outbound = finished.find((x) => x.kind === SpanKind.CLIENT);
    expect(outbound?.spanContext().traceId).toBe(inbound?.spanContext().traceId);
    expect(outbound?.parentSpanContext?.spanId).toBe(inbound?.spanContext().spanId);
  });

  it('sends GET and POST to a STRICT service, routed and over mTLS, the responses as the sidecar gives them', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    const get = await request({
      host: 'httpbin.foo',
      port: 8000,
      path: '/',
      createConnection: client.mesh.createConnection,
    });
    expect(get).toMatchObject({ status: 200, body: 'ok' });
    expect(get.headers['x-sidecar-route']).toBe('httpbin');
    expect(get.headers['server']).toBe('envoy');
    expect(get.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    const post = await request(
      {
        method: 'POST',
        host: 'httpbin.foo',
        port: 8000,
        path: '/',
        headers: { 'content-type': 'text/plain', 'content-length': '5' },
        createConnection: client.mesh.createConnection,
      },
      'hello',
    );
    expect(post).toMatchObject({ status: 200, body: 'posted' });
    expect(service.s.handled()).toBe(2);
    await linesBeyond(client.log, 1);
    expect(client.log.map((l) => (JSON.parse(l) as { response_code: number }).response_code)).toEqual([
      200, 200,
    ]);
    expect(lineOf(client.log, 1)['bytes_received']).toBe(5);
  });

  it('retries a POST the route retries, its body sent again, as the sidecar buffers it', async () => {
    const bodies: string[] = [];
    const upstream = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.statusCode = bodies.length === 1 ? 503 : 200;
        res.end(`got ${body}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'retry.yaml'),
      `${CLIENT_CONFIG.split('---')[0]}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: [httpbin]
  http:
  - retries: { attempts: 2, retryOn: 5xx }
    route: [{ destination: { host: httpbin } }]
`,
    );
    const mesh = await createMesh({
      workload: { name: 'sleep', namespace: 'foo', serviceAccount: 'sleep' },
      config: dir,
      endpoints: { [HTTPBIN]: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] },
      telemetry: false,
    });
    closers.push(() => mesh.close());
    const r = await request(
      {
        method: 'POST',
        host: 'httpbin.foo',
        port: 8000,
        path: '/',
        headers: { 'content-length': '5' },
        createConnection: mesh.createConnection,
      },
      'hello',
    );
    expect(r).toMatchObject({ status: 200, body: 'got hello' });
    expect(bodies).toEqual(['hello', 'hello']);
  });

  it('carries keep-alive requests on one connection of an agent that makes them with it', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let made = 0;
    agent.createConnection = (options) => {
      made++;
      return client.mesh.createConnection(options);
    };
    closers.push(() => Promise.resolve(agent.destroy()));
    for (let i = 0; i < 3; i++) {
      const r = await request({ host: 'httpbin.foo', port: 8000, path: '/', agent });
      expect(r).toMatchObject({ status: 200, body: 'ok' });
    }
    expect(made).toBe(1);
    expect(service.s.handled()).toBe(3);
  });

  it('refuses a port out of range, and any connection once the mesh is closed', async () => {
    const service = await chatService();
    const client = await sleepMesh(service);
    expect(() => client.mesh.createConnection({ host: 'httpbin.foo', port: 70000 })).toThrow(MeshletError);
    await client.mesh.close();
    let err: unknown = null;
    try {
      client.mesh.createConnection({ host: 'httpbin.foo', port: 8000 });
    } catch (e) {
      err = e;
    }
    expect((err as MeshletError).code).toBe('MESHLET_ERR_MESH_CLOSED');
  });
});
