import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import type { Closers } from '../support/httpbin-mesh.js';
import { MESH_SERVERS, observedHttpbin } from '../support/observed-httpbin.js';

// Envoy's HTTP/1 codec refuses a request whose URL and header names and values add up to more
// than max_request_headers_kb, 60 KiB by default (istiod sets none), with `431 Request Header
// Fields Too Large`, `DPE`, `http1.headers_too_large`, and closes the connection
// (codec_impl.cc ServerConnectionImpl::getHeadersSize, checkMaxHeadersSize). Node's own limit
// is 16 KiB of raw head: a sidecar takes a 40 KiB cookie that a bare node server refuses.
// Through the servers meshlet makes, with the request written on a raw socket.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** `GET /` with Host and one `X-Big` of `size` bytes; what came back, and whether the server closed. */
function getWithBigHeader(port: number, size: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET / HTTP/1.1\r\nHost: httpbin.foo\r\nX-Big: ${'b'.repeat(size)}\r\n\r\n`),
    );
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (/\r\n\r\nok$/.test(text)) {
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on('end', () => resolve({ text, closed: true }));
    socket.on('error', reject);
  });
}

// URL `/` (1) + `Host` `httpbin.foo` (4 + 11) + `X-Big` (5): the value that makes 60 KiB.
const AT_LIMIT = 60 * 1024 - 21;

describe.each(MESH_SERVERS)('a request’s header size, %s', (kind) => {
  it('serves 40 KiB of headers, which node alone refuses (16 KiB)', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const r = await getWithBigHeader(s.port, 40 * 1024);
    expect(r.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(s.handled()).toBe(1);
  });

  it('serves exactly 60 KiB of URL and headers', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const r = await getWithBigHeader(s.port, AT_LIMIT);
    expect(r.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(s.handled()).toBe(1);
  });

  it('refuses one byte more with Envoy’s 431, reported as the codec’s refusal, the handler never called', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const r = await getWithBigHeader(s.port, AT_LIMIT + 1);
    expect(r.text.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
    expect(r.text.endsWith('\r\n\r\nRequest Header Fields Too Large')).toBe(true);
    expect(r.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(r.closed).toBe(true);
    expect(s.handled()).toBe(0);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 431,
      response_flags: 'DPE',
      response_code_details: 'http1.headers_too_large',
    });
  });

  it('refuses a head larger than node reads the same way', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const r = await getWithBigHeader(s.port, 70 * 1024);
    expect(r.text.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
    expect(r.closed).toBe(true);
    expect(s.handled()).toBe(0);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 431,
      response_code_details: 'http1.headers_too_large',
    });
  });
});

/** sleep in foo, calling httpbin.foo's port 80 at 127.0.0.1:`port`. */
async function sleepMesh(port: number): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'svc.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata: { name: httpbin, namespace: foo }\nspec: { ports: [{ name: http, port: 80 }] }\n',
  );
  const mesh = await createMesh({
    workload: { name: 'sleep', namespace: 'foo', serviceAccount: 'sleep' },
    config: dir,
    endpoints: { 'httpbin.foo.svc.cluster.local': [{ address: '127.0.0.1', port }] },
    telemetry: false,
  });
  closers.push(() => mesh.close());
  return mesh;
}

describe('mesh.fetch: the outbound listener’s codec', () => {
  it('sends 50 KiB of headers on, and answers a request over 60 KiB itself, 431 DPE', async () => {
    let seen = 0;
    const upstream = http.createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
      seen = String(req.headers['x-big']).length;
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const mesh = await sleepMesh((upstream.address() as AddressInfo).port);
    const ok = await mesh.fetch('http://httpbin.foo.svc.cluster.local/', {
      headers: { 'x-big': 'b'.repeat(50 * 1024) },
    });
    expect(ok.status).toBe(200);
    expect(seen).toBe(50 * 1024);
    const big = await mesh.fetch('http://httpbin.foo.svc.cluster.local/', {
      headers: { 'x-big': 'b'.repeat(61 * 1024) },
    });
    expect(big.status).toBe(431);
    expect(await big.text()).toBe('Request Header Fields Too Large');
    expect(big.meshlet.flags).toEqual(['DPE']);
    // The same limit on a connection from mesh.createConnection, which node's parser reads first.
    const viaConnection = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: 'httpbin.foo.svc.cluster.local',
          port: 80,
          path: '/',
          headers: { 'x-big': 'c'.repeat(50 * 1024) },
          createConnection: mesh.createConnection,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(viaConnection).toBe(200);
    expect(seen).toBe(50 * 1024);
  });

  it('answers a transfer coding other than chunked itself, 501 DPE, as the outbound codec does', async () => {
    const mesh = await sleepMesh(9);
    const r = await mesh.fetch('http://httpbin.foo.svc.cluster.local/', {
      method: 'POST',
      headers: { 'transfer-encoding': 'gzip, chunked' },
      body: 'x',
    });
    expect(r.status).toBe(501);
    expect(await r.text()).toBe('Not Implemented');
    expect(r.meshlet.flags).toEqual(['DPE']);
  });
});

describe('mesh.listenGateway: the gateway listener’s codec', () => {
  it('forwards 40 KiB of headers, and refuses URL and headers over 60 KiB itself', async () => {
    let forwarded = 0;
    const upstream = http.createServer({ maxHeaderSize: 128 * 1024 }, (_req, res) => {
      forwarded++;
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => upstream.close(() => r())));
    const dir = await tmp();
    await writeFile(
      path.join(dir, 'gateway.yaml'),
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: istio-system }
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{ route: [{ destination: { host: httpbin.foo.svc.cluster.local, port: { number: 80 } } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec: { ports: [{ name: http, port: 80 }] }
`,
    );
    const mesh = await createMesh({
      workload: {
        name: 'istio-ingressgateway',
        namespace: 'istio-system',
        serviceAccount: 'istio-ingressgateway-service-account',
        labels: { istio: 'ingressgateway' },
      },
      config: dir,
      endpoints: {
        'httpbin.foo.svc.cluster.local': [
          { address: '127.0.0.1', port: (upstream.address() as AddressInfo).port },
        ],
      },
      telemetry: false,
    });
    closers.push(() => mesh.close());
    const server = await mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    closers.push(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const port = (server.address() as AddressInfo).port;
    const ok = await getWithBigHeader(port, 40 * 1024);
    expect(ok.text.startsWith('HTTP/1.1 200')).toBe(true);
    const refused = await getWithBigHeader(port, AT_LIMIT + 1);
    expect(refused.text.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n')).toBe(true);
    expect(forwarded).toBe(1);
  });
});
