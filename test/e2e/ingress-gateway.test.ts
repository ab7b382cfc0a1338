import http from 'node:http';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createMesh, MeshletError, type Mesh } from '../../packages/core/src/index.js';
import { SAMPLES, useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { sumMetric } from '../../packages/core/src/testing/mesh-metric.js';
import { send as rawSend, type RawResponse } from '../adapters/support/http.js';
import { plainExchange as rawExchange } from '../support/observed-httpbin.js';

// meshlet as an Istio ingress gateway (mesh.gateway()), with Istio's own sample YAML:
// a real http.Server runs the gateway listener, real loopback servers are the upstreams,
// and a real HTTP client sends what a browser behind a load balancer would. What is
// asserted is what Istio's ingress gateway does (istio.io tasks traffic-management/ingress,
// security/authentication/authn-policy "End-user authentication"; gateway.go,
// model/telemetry.go for the gateway's CLIENT-mode telemetry).

const sample = (rel: string): string => readFileSync(path.join(SAMPLES, rel), 'utf8');
const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
};

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface Upstream {
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

async function upstream(
  answer: (
    req: Seen,
    n: number,
  ) => { status: number; body: string; headers?: Record<string, string | string[]> } = () => ({
    status: 200,
    body: 'hello from upstream',
  }),
): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      const a = answer(s, seen.length);
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function gateway(
  yaml: string[],
  endpoints: Record<string, Upstream>,
  port?: number,
  extra: Parameters<typeof createMesh>[0] = {},
): Promise<{ mesh: Mesh; url: string; port: number }> {
  const dir = await tmp();
  await Promise.all(yaml.map((y, i) => writeFile(path.join(dir, `${i}.yaml`), y)));
  const mesh = await createMesh({
    config: dir,
    workload: INGRESS,
    endpoints: Object.fromEntries(
      Object.entries(endpoints).map(([host, u]) => [host, [{ address: '127.0.0.1', port: u.port }]]),
    ),
    ...extra,
  });
  const server = http.createServer(mesh.gateway(port === undefined ? {} : { port }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await mesh.close();
  });
  const p = (server.address() as AddressInfo).port;
  return { mesh, url: `http://127.0.0.1:${p}`, port: p };
}

/** A request to the gateway as a client behind a load balancer sends it: `host` in Host. */
function send(
  port: number,
  host: string,
  pathname: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return rawSend(port, {
    method: init.method ?? 'GET',
    path: pathname,
    headers: { host, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

/** `sum(istio_requests_total{labels})` over the gateway's metrics. */
const requestsTotal = (mesh: Mesh, labels: Record<string, string>): Promise<number> =>
  sumMetric([mesh], 'istio_requests_total', labels);

const BOOKINFO = [
  sample('bookinfo-platform/bookinfo.yaml'),
  sample('bookinfo-networking/bookinfo-gateway.yaml'),
];
const PRODUCTPAGE = 'productpage.default.svc.cluster.local';

describe('mesh.gateway(): Bookinfo through the ingress gateway', () => {
  it('routes /productpage to productpage:9080 keeping the Host, adding the edge proxy headers', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    const r = await send(gw.port, 'bookinfo.example.com', '/productpage?u=normal', {
      headers: {
        'x-forwarded-for': '203.0.113.7',
        connection: 'keep-alive',
        'x-envoy-retry-on': '5xx',
        'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/productpage;URI=spiffe://forged',
        'x-request-id': 'chosen-by-the-client',
        'x-envoy-external-address': '10.9.9.9',
        'x-envoy-downstream-service-cluster': 'forged',
        'x-envoy-internal': 'true',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello from upstream');
    expect(r.headers['server']).toBe('istio-envoy');
    expect(r.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    const s = pp.seen[0]!;
    expect(s.url).toBe('/productpage?u=normal');
    expect(s.headers.host).toBe('bookinfo.example.com');
    // use_remote_address: the gateway appends its client to the chain.
    expect(s.headers['x-forwarded-for']).toBe('203.0.113.7,127.0.0.1');
    expect(s.headers['x-forwarded-proto']).toBe('http');
    // An edge request (Envoy 1.33+ counts no address as internal unless istiod configures
    // internal networks, gateway.go): a fresh x-request-id over the client's
    // (preserve_external_request_id is false), and the client's address as
    // x-envoy-external-address (conn_manager_utility.cc mutateRequestHeaders).
    expect(s.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.headers['x-envoy-external-address']).toBe('127.0.0.1');
    // An external client's Envoy control headers are not obeyed or passed on.
    expect(s.headers['x-envoy-retry-on']).toBeUndefined();
    expect(s.headers['x-envoy-downstream-service-cluster']).toBeUndefined();
    // Nor can it mark its request internal (the connection manager removes x-envoy-internal).
    expect(s.headers['x-envoy-internal']).toBeUndefined();
    // SANITIZE_SET, a gateway's default: a plaintext client's X-Forwarded-Client-Cert is dropped.
    expect(s.headers['x-forwarded-client-cert']).toBeUndefined();
  });

  it('names the client found through trusted proxies (numTrustedProxies) in x-envoy-external-address', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp }, undefined, {
      meshConfig: { numTrustedProxies: 1 },
    });
    await send(gw.port, 'bookinfo.example.com', '/productpage', {
      headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' },
    });
    expect(pp.seen[0]?.headers['x-envoy-external-address']).toBe('203.0.113.7');
    expect(pp.seen[0]?.headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.7,127.0.0.1');
  });

  it('answers 404 NR for a path no VirtualService rule matches, and measures it once, as reporter="source"', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    expect((await send(gw.port, 'bookinfo.example.com', '/')).status).toBe(404);
    expect((await send(gw.port, 'bookinfo.example.com', '/productpage')).status).toBe(200);
    expect(pp.seen).toHaveLength(1);
    expect(
      await requestsTotal(gw.mesh, {
        reporter: 'source',
        response_code: '404',
        response_flags: 'NR',
        source_workload: 'istio-ingressgateway',
      }),
    ).toBe(1);
    expect(
      await requestsTotal(gw.mesh, {
        reporter: 'source',
        response_code: '200',
        source_workload: 'istio-ingressgateway',
        source_canonical_service: 'istio-ingressgateway',
        destination_service: PRODUCTPAGE,
        destination_service_name: 'productpage',
      }),
    ).toBe(1);
    // A gateway reports as a client only: nothing with reporter="destination".
    expect(await requestsTotal(gw.mesh, { reporter: 'destination' })).toBe(0);
  });

  it("keeps Istio's default retry policy (a 503 is not retried) and a VirtualService's retries, sending a posted body again", async () => {
    const answer = (_s: Seen, n: number) =>
      n % 2 === 1 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' };
    const login = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=jason&passwd=x',
    };
    const pp = await upstream(answer);
    cleanup.push(() => pp.close());
    // Istio's default retryOn lost 503 in 2024 (pilot route/retry/retry.go DefaultPolicy).
    const plain = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    expect(await send(plain.port, 'bookinfo.example.com', '/login', login)).toMatchObject({
      status: 503,
      body: 'busy',
    });
    expect(pp.seen).toHaveLength(1);
    pp.seen.length = 0;
    const retrying = BOOKINFO[1]!.replace(
      '    route:\n    - destination:\n        host: productpage',
      '    retries: { attempts: 2, retryOn: 5xx }\n    route:\n    - destination:\n        host: productpage',
    );
    expect(retrying).toContain('retryOn: 5xx');
    const pp2 = await upstream(answer);
    cleanup.push(() => pp2.close());
    const gw = await gateway([BOOKINFO[0]!, retrying], { [PRODUCTPAGE]: pp2 });
    expect(await send(gw.port, 'bookinfo.example.com', '/login', login)).toMatchObject({
      status: 200,
      body: 'ok',
    });
    expect(pp2.seen.map((s) => [s.method, s.body, s.headers['x-envoy-attempt-count']])).toEqual([
      ['POST', 'username=jason&passwd=x', '1'],
      ['POST', 'username=jason&passwd=x', '2'],
    ]);
  });

  it('routes and forwards the path as meshConfig pathNormalization makes it (MERGE_SLASHES)', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp }, undefined, {
      meshConfig: { pathNormalization: 'MERGE_SLASHES' },
    });
    expect((await send(gw.port, 'bookinfo.example.com', '//productpage?x=1')).status).toBe(200);
    expect(pp.seen.map((s) => s.url)).toEqual(['/productpage?x=1']);
  });

  it("continues the caller's W3C trace", async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await send(gw.port, 'bookinfo.example.com', '/productpage', {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const tp = String(pp.seen[0]!.headers['traceparent']);
    expect(tp.split('-')[1]).toBe(traceId);
    expect(tp.split('-')[2]).not.toBe('00f067aa0ba902b7');
  });
});

describe('mesh.gateway(): the codec’s header count', () => {
  it('counts the client’s headers once, at the gateway: 100 go through, with the ones the gateway adds; 101 are 431', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
    // rawSend writes Host, the given headers and a Connection line: 100 here.
    const ok = await send(gw.port, 'bookinfo.example.com', '/productpage', { headers: headers(98) });
    expect(ok.status).toBe(200);
    // The gateway added x-forwarded-for, x-forwarded-proto, x-request-id, ... on its way out.
    expect(Object.keys(pp.seen[0]!.headers).length).toBeGreaterThan(100);
    const refused = await send(gw.port, 'bookinfo.example.com', '/productpage', { headers: headers(99) });
    expect([refused.status, refused.body]).toEqual([431, 'Request Header Fields Too Large']);
    expect(pp.seen).toHaveLength(1);
    // The codec refused it before any route: the gateway's stats filter knows no destination
    // (istio_stats.cc, client branch, no Host fallback on a gateway) and counts it with DPE.
    const codec = { reporter: 'source', response_code: '431', response_flags: 'DPE' };
    expect(await requestsTotal(gw.mesh, { ...codec, destination_service: 'unknown' })).toBe(1);
    expect(
      await requestsTotal(gw.mesh, {
        ...codec,
        source_workload: 'istio-ingressgateway',
        destination_workload: 'unknown',
      }),
    ).toBe(1);
  });

  it('answers HTTP/1.0 426 Upgrade Required, as istiod configures a gateway without PILOT_HTTP10', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    const text = await rawExchange(
      gw.port,
      'GET /productpage HTTP/1.0\r\nHost: bookinfo.example.com\r\n\r\n',
    );
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 426 Upgrade Required');
    expect(pp.seen).toHaveLength(0);
    expect(
      await requestsTotal(gw.mesh, {
        reporter: 'source',
        response_code: '426',
        response_flags: '-',
        destination_service: 'unknown',
      }),
    ).toBe(1);
  });

  it('answers what its parser refuses as Envoy’s codec, on mesh.listenGateway, and counts it', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(BOOKINFO, { [PRODUCTPAGE]: pp });
    const server = await gw.mesh.listenGateway({ listenPort: 0, host: '127.0.0.1' });
    const port = (server.address() as AddressInfo).port;
    const text = await rawExchange(port, 'GET /productpage HTTP/1.1\r\nBad Header: v\r\n\r\n');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(text).toContain('\r\nserver: istio-envoy\r\nconnection: close\r\n');
    expect(text.endsWith('\r\n\r\nBad Request')).toBe(true);
    expect(pp.seen).toHaveLength(0);
    expect(
      await requestsTotal(gw.mesh, {
        reporter: 'source',
        response_code: '400',
        response_flags: 'DPE',
        destination_service: 'unknown',
        source_workload: 'istio-ingressgateway',
      }),
    ).toBe(1);
  });
});

describe('mesh.gateway(): the ingress-control task', () => {
  const HTTPBIN = 'httpbin.default.svc.cluster.local';
  const TASK = [
    sample('httpbin/httpbin.yaml'),
    sample('tasks/ingress-control/01-httpbin-gateway.yaml'),
    sample('tasks/ingress-control/02-httpbin-virtualservice.yaml'),
  ];

  it('routes httpbin.example.com /status and /delay; another host or path is 404', async () => {
    const hb = await upstream((s) => ({
      status: s.url.startsWith('/status/') ? Number(s.url.slice(8)) : 200,
      body: '',
    }));
    cleanup.push(() => hb.close());
    const gw = await gateway(TASK, { [HTTPBIN]: hb });
    // The task's curl: -H "Host:httpbin.example.com" "http://$INGRESS_HOST:$INGRESS_PORT/status/200"
    expect((await send(gw.port, 'httpbin.example.com', '/status/200')).status).toBe(200);
    expect((await send(gw.port, `httpbin.example.com:${gw.port}`, '/status/418')).status).toBe(418);
    expect((await send(gw.port, 'httpbin.example.com', '/headers')).status).toBe(404);
    expect((await send(gw.port, 'other.example.com', '/status/200')).status).toBe(404);
    expect(hb.seen.map((s) => s.url)).toEqual(['/status/200', '/status/418']);
  });
});

describe('mesh.gateway(): a browser app calling an API through the ingress (VirtualService corsPolicy)', () => {
  // The CORS filter istiod puts on every gateway connection manager, after RBAC and fault,
  // before the router (listener_builder.go), with the route's corsPolicy (route.go
  // TranslateCORSPolicy; Envoy cors_filter.cc).
  const API = [
    sample('bookinfo-platform/bookinfo.yaml'),
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: api-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [api.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  gateways: [api-gateway]
  http:
  - match: [{ uri: { prefix: /api/ } }]
    corsPolicy:
      allowOrigins: [{ exact: "https://shop.example.com" }]
      allowMethods: [GET, PUT]
      allowHeaders: [content-type, authorization]
      exposeHeaders: [x-request-id]
      allowCredentials: true
      maxAge: 10m
    route: [{ destination: { host: productpage, port: { number: 9080 } } }]
`,
  ];

  it('answers the preflight itself, adds the headers to the actual call, forwards a preflight from another origin', async () => {
    const pp = await upstream();
    cleanup.push(() => pp.close());
    const gw = await gateway(API, { [PRODUCTPAGE]: pp });
    const preflight = await send(gw.port, 'api.example.com', '/api/v1/products/1', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight).toMatchObject({
      status: 200,
      body: '',
      headers: {
        'access-control-allow-origin': 'https://shop.example.com',
        'access-control-allow-methods': 'GET,PUT',
        'access-control-allow-headers': 'content-type,authorization',
        'access-control-allow-credentials': 'true',
        'access-control-max-age': '600',
        'content-length': '0',
        server: 'istio-envoy',
      },
    });
    expect(pp.seen).toEqual([]);

    const actual = await send(gw.port, 'api.example.com', '/api/v1/products/1', {
      method: 'PUT',
      headers: { origin: 'https://shop.example.com', 'content-type': 'application/json' },
      body: '{}',
    });
    expect([actual.status, actual.body]).toEqual([200, 'hello from upstream']);
    expect(actual.headers).toMatchObject({
      'access-control-allow-origin': 'https://shop.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-request-id',
    });
    expect(actual.headers['access-control-allow-methods']).toBeUndefined();

    const other = await send(gw.port, 'api.example.com', '/api/v1/products/1', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    });
    expect([other.status, other.headers['access-control-allow-origin']]).toEqual([200, undefined]);
    expect(pp.seen.map((s) => [s.method, s.headers.origin])).toEqual([
      ['PUT', 'https://shop.example.com'],
      ['OPTIONS', 'https://evil.example'],
    ]);
    // Each is one request the gateway reports (reporter="source"), the preflight included.
    expect(
      await requestsTotal(gw.mesh, { reporter: 'source', response_code: '200', response_flags: '-' }),
    ).toBe(3);
  });
});

describe('mesh.gateway(): end-user authentication at the ingress (authn-policy task)', () => {
  const jwks = sample('jwt/jwks.json');
  const token = sample('jwt/demo.jwt').trim();
  let jwksServer: http.Server;
  let jwksUrl: string;
  beforeAll(async () => {
    jwksServer = http.createServer((_req, res) => res.end(jwks));
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => jwksServer.close(() => r())));

  it('07: no token 403, a bad token 401, the sample token 200 without the token forwarded; each measured at the gateway', async () => {
    const hb = await upstream();
    cleanup.push(() => hb.close());
    const ra = sample('tasks/authn-policy/06-requestauthentication-ingress-jwt-example.yaml').replace(
      /jwksUri: ".*"/,
      `jwksUri: "${jwksUrl}"`,
    );
    const gw = await gateway(
      [
        sample('httpbin/httpbin.yaml'),
        sample('httpbin/httpbin-gateway.yaml'),
        ra,
        sample('tasks/authn-policy/07-authorizationpolicy-frontend-ingress-require-token.yaml'),
      ],
      { 'httpbin.default.svc.cluster.local': hb },
    );
    const denied = await send(gw.port, 'httpbin.example.com', '/headers');
    expect(denied).toMatchObject({ status: 403, body: 'RBAC: access denied' });
    expect(denied.headers['server']).toBe('istio-envoy');
    // A local reply as Envoy sends it: plain text with its length.
    expect(denied.headers['content-type']).toBe('text/plain');
    expect(denied.headers['content-length']).toBe('19');
    const bad = await send(gw.port, 'httpbin.example.com', '/headers', {
      headers: { authorization: 'Bearer deadbeef' },
    });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe(
      'Bearer realm="http://httpbin.example.com/headers", error="invalid_token"',
    );
    const ok = await send(gw.port, 'httpbin.example.com', '/headers', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(hb.seen).toHaveLength(1);
    // forwardOriginalToken defaults to false: the upstream never sees the token.
    expect(hb.seen[0]!.headers['authorization']).toBeUndefined();
    expect(await requestsTotal(gw.mesh, { reporter: 'source', response_code: '403' })).toBe(1);
    expect(await requestsTotal(gw.mesh, { reporter: 'source', response_code: '401' })).toBe(1);
    expect(
      await requestsTotal(gw.mesh, {
        reporter: 'source',
        response_code: '200',
        destination_service: 'httpbin.default.svc.cluster.local',
      }),
    ).toBe(1);
  });
});

describe('mesh.gateway(): servers and errors', () => {
  it('redirects plaintext to https for a server with tls.httpsRedirect', async () => {
    const gw = await gateway(
      [
        `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [shop.example.com]
    tls: { httpsRedirect: true }
`,
      ],
      {},
    );
    const r = await send(gw.port, 'shop.example.com', '/cart?id=1');
    expect(r.status).toBe(301);
    expect(r.headers['location']).toBe('https://shop.example.com/cart?id=1');
  });

  it('refuses a workload no Gateway selects, and a port with no HTTP server, saying what to fix', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'gw.yaml'), sample('bookinfo-networking/bookinfo-gateway.yaml'));
    const sidecar = await createMesh({
      config: dir,
      workload: {
        name: 'productpage-v1',
        namespace: 'default',
        serviceAccount: 'bookinfo-productpage',
        labels: { app: 'productpage' },
      },
    });
    cleanup.push(() => sidecar.close());
    expect(() => sidecar.gateway()).toThrow(MeshletError);
    expect(() => sidecar.gateway()).toThrow(
      /default\/productpage-v1 is not a gateway; give it the labels a Gateway's selector names/,
    );
    const ingress = await createMesh({ config: dir, workload: INGRESS });
    cleanup.push(() => ingress.close());
    expect(() => ingress.gateway({ port: 80 })).toThrow(
      /no Gateway server serves HTTP on port 80 \(HTTP server ports: 8080\)/,
    );
    expect(typeof ingress.gateway()).toBe('function');
  });
});
