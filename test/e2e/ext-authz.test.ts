import express from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh, type MeshOptions } from '../../packages/core/src/index.js';
import {
  ISTIO_SAMPLE_DENY_BODY,
  istioSampleCheck,
  istioSampleCustomPolicy,
  startExtAuthzGrpcServer,
  type ExtAuthzGrpcServer,
} from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// istio.io tasks/security/authorization/authz-custom: the sample ext-authz server behind
// the task's `sample-ext-authz-grpc` or `sample-ext-authz-http` provider, and a CUSTOM
// policy on httpbin's /headers. The servers are real gRPC and HTTP servers on loopback
// answering as Istio's sample (samples/extauthz) does.
const policy = istioSampleCustomPolicy;
const DENY_BODY = ISTIO_SAMPLE_DENY_BODY;

const tmp = useTmpDir();
let authz: ExtAuthzGrpcServer;
let bodyAuthz: ExtAuthzGrpcServer;
let httpAuthz: Server;
let oauth2Proxy: Server;
const httpChecks: { url: string; headers: Record<string, string | string[] | undefined> }[] = [];
beforeAll(async () => {
  authz = await startExtAuthzGrpcServer(istioSampleCheck);
  // A policy on the body, as OPA-Envoy users write them: no order over 100 items.
  bodyAuthz = await startExtAuthzGrpcServer((req) => {
    const order = JSON.parse(req.attributes.request.http.body || '{}') as { items?: number };
    return (order.items ?? 0) <= 100
      ? { status: { code: 0 } }
      : { status: { code: 7 }, denied_response: { status: { code: 403 }, body: 'order too large' } };
  });
  // The sample's HTTP mode: 200 with the result header for `x-ext-authz: allow`, else 403.
  httpAuthz = createServer((req, res) => {
    httpChecks.push({ url: req.url ?? '', headers: req.headers });
    const allow = req.headers['x-ext-authz'] === 'allow';
    res.setHeader('x-ext-authz-check-result', allow ? 'allowed' : 'denied');
    res.statusCode = allow ? 200 : 403;
    res.end(allow ? '' : DENY_BODY);
  });
  await new Promise<void>((r) => httpAuthz.listen(0, '127.0.0.1', r));
  // oauth2-proxy as Istio's guides wire it: a session cookie passes (and is refreshed, in
  // two cookies when it is large), anything else is sent to the login page.
  oauth2Proxy = createServer((req, res) => {
    if ((req.headers.cookie ?? '').includes('_oauth2_proxy=session')) {
      res.setHeader('x-auth-request-user', 'alice');
      res.setHeader('set-cookie', [
        '_oauth2_proxy_0=part0; Path=/; HttpOnly',
        '_oauth2_proxy_1=part1; Path=/; HttpOnly',
      ]);
      res.end();
      return;
    }
    res.statusCode = 302;
    res.setHeader('location', 'https://auth.example.com/oauth2/start?rd=%2Fheaders');
    res.setHeader('content-type', 'text/html');
    res.setHeader('set-cookie', [
      '_oauth2_proxy_csrf=abc; Path=/; HttpOnly',
      '_oauth2_proxy_rd=%2Fheaders; Path=/',
    ]);
    res.setHeader('x-internal', 'not for the client');
    res.end('<a href="https://auth.example.com/oauth2/start?rd=%2Fheaders">Found</a>.');
  });
  await new Promise<void>((r) => oauth2Proxy.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await authz.close();
  await bodyAuthz.close();
  await new Promise<void>((r) => httpAuthz.close(() => r()));
  await new Promise<void>((r) => oauth2Proxy.close(() => r()));
});

const meshes: Mesh[] = [];
afterEach(async () => {
  for (const m of meshes.splice(0)) await m.close();
});

/** What a test changes: the policies (default: the task's policy on `provider`), istiod's flags. */
interface MeshExtra {
  readonly policies?: string;
  readonly istiodFeatures?: MeshOptions['istiodFeatures'];
}

async function httpbinMesh(provider: string, extra: MeshExtra = {}): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${istioConfigMap(`
extensionProviders:
- name: sample-ext-authz-grpc
  envoyExtAuthzGrpc:
    service: 127.0.0.1
    port: "${authz.port}"
- name: orders-ext-authz-grpc
  envoyExtAuthzGrpc:
    service: 127.0.0.1
    port: "${bodyAuthz.port}"
    includeRequestBodyInCheck: { maxRequestBytes: 1024 }
- name: sample-ext-authz-http
  envoyExtAuthzHttp:
    service: 127.0.0.1
    port: "${(httpAuthz.address() as AddressInfo).port}"
    includeRequestHeadersInCheck: ["x-ext-authz"]
- name: oauth2-proxy
  envoyExtAuthzHttp:
    service: 127.0.0.1
    port: "${(oauth2Proxy.address() as AddressInfo).port}"
    includeRequestHeadersInCheck: ["authorization", "cookie"]
    headersToUpstreamOnAllow: ["authorization", "path", "x-auth-request-user"]
    headersToDownstreamOnAllow: ["set-cookie"]
    headersToDownstreamOnDeny: ["content-type", "set-cookie"]`)}${extra.policies ?? policy(provider)}`,
  );
  const mesh = await createMesh({
    ...(extra.istiodFeatures === undefined ? {} : { istiodFeatures: extra.istiodFeatures }),
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
  });
  meshes.push(mesh);
  return mesh;
}

/** A listening server, whichever kind the adapter runs (node's, or the mesh's mTLS-aware one). */
interface Listening {
  address(): AddressInfo | string | null;
}

type Headers = Record<string, string | string[] | undefined>;

const ADAPTERS = {
  fastify: async (mesh: Mesh): Promise<Listening> => {
    const app = Fastify({ serverFactory: mesh.serverFactory });
    await app.register(meshletFastify, { mesh });
    app.get('/headers', (req) => ({ headers: req.headers }));
    app.get('/ip', () => ({ origin: '127.0.0.1' }));
    app.post('/headers', (req) => ({ parsed: req.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app.server;
  },
  express: async (mesh: Mesh): Promise<Listening> => {
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/headers', (req, res) => res.json({ headers: req.headers }));
    app.get('/ip', (_req, res) => res.json({ origin: '127.0.0.1' }));
    app.post('/headers', express.json(), (req, res) => res.json({ parsed: req.body as unknown }));
    return mesh.listen(app, 0, '127.0.0.1');
  },
} as const;

/** httpbin behind `provider`, served by `adapter`; its base URL. */
async function serve(
  adapter: keyof typeof ADAPTERS,
  provider: string,
  extra: MeshExtra = {},
): Promise<string> {
  const server = await ADAPTERS[adapter](await httpbinMesh(provider, extra));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'CUSTOM authorization over gRPC (istio.io authz-custom task) with %s',
  (adapter) => {
    it('denies /headers without x-ext-authz: allow, with the server body and header', async () => {
      const base = await serve(adapter, 'sample-ext-authz-grpc');
      const before = authz.seen.length;

      const denied = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'deny' } });
      expect(denied.status).toBe(403);
      expect(await denied.text()).toBe(DENY_BODY);
      expect(denied.headers.get('x-ext-authz-check-result')).toBe('denied');

      const allowed = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
      expect(allowed.status).toBe(200);
      const seen = ((await allowed.json()) as { headers: Headers }).headers;
      expect(seen['x-ext-authz-check-result']).toBe('allowed');

      // Paths the policy does not name are not sent to the server.
      const ip = await fetch(`${base}/ip`);
      expect(ip.status).toBe(200);
      expect(authz.seen.length - before).toBe(2);
      const check = authz.seen.at(-1)!.attributes.request.http;
      expect(check).toMatchObject({
        method: 'GET',
        path: '/headers',
        host: `127.0.0.1:${new URL(base).port}`,
      });
      expect(check.headers['x-ext-authz']).toBe('allow');
      // The x-request-id the mesh generated, which the app also received, as Envoy sends it.
      expect(check.headers['x-request-id']).toBe(seen['x-request-id']);
      expect(check.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[4b][0-9a-f]{3}-/);
    });
  },
);

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'CUSTOM authorization over HTTP (istio.io authz-custom task) with %s',
  (adapter) => {
    it('asks the HTTP server with the listed header, and passes its denial on', async () => {
      const base = await serve(adapter, 'sample-ext-authz-http');
      const before = httpChecks.length;

      const denied = await fetch(`${base}/headers`, {
        headers: { 'x-ext-authz': 'deny', 'x-other': 'kept-back' },
      });
      expect(denied.status).toBe(403);
      expect(await denied.text()).toBe(DENY_BODY);
      expect(denied.headers.get('x-ext-authz-check-result')).toBe('denied');

      const allowed = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
      expect(allowed.status).toBe(200);
      expect((await fetch(`${base}/ip`)).status).toBe(200);

      const checks = httpChecks.slice(before);
      expect(checks.map((c) => [c.url, c.headers['x-ext-authz']])).toEqual([
        ['/headers', 'deny'],
        ['/headers', 'allow'],
      ]);
      // Only includeRequestHeadersInCheck (and the headers Envoy always sends) reach the server.
      expect(checks[0]!.headers['x-other']).toBeUndefined();
    });
  },
);

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'CUSTOM authorization on the request body (includeRequestBodyInCheck) with %s',
  (adapter) => {
    it("decides on the body, and the app's JSON parser still reads all of it", async () => {
      const base = await serve(adapter, 'orders-ext-authz-grpc');
      const post = (order: unknown) =>
        fetch(`${base}/headers`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(order),
        });
      const ok = await post({ items: 3, note: 'x'.repeat(200) });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ parsed: { items: 3, note: 'x'.repeat(200) } });
      const big = await post({ items: 500 });
      expect(big.status).toBe(403);
      expect(await big.text()).toBe('order too large');
      const tooLong = await post({ items: 1, note: 'x'.repeat(2000) });
      expect(tooLong.status).toBe(413);
      expect(await tooLong.text()).toBe('Payload Too Large');
      // A chunked body that turns out empty still reaches the handler (nothing to put back).
      const empty = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${base}/headers`,
          { method: 'POST', headers: { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(empty).toBe(200);
    });
  },
);

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  "CUSTOM authorization with oauth2-proxy (Istio's envoyExtAuthzHttp guide) with %s",
  (adapter) => {
    it('redirects to the login page with every cookie, and passes a session on with its refreshed cookies', async () => {
      const base = await serve(adapter, 'oauth2-proxy');
      const login = await fetch(`${base}/headers`, { redirect: 'manual' });
      expect(login.status).toBe(302);
      // Envoy always lets Location (and WWW-Authenticate) through beside headersToDownstreamOnDeny.
      expect(login.headers.get('location')).toBe('https://auth.example.com/oauth2/start?rd=%2Fheaders');
      expect(login.headers.get('content-type')).toBe('text/html');
      expect(login.headers.get('x-internal')).toBeNull();
      // Each Set-Cookie stays its own header: joined, the browser would keep one broken cookie.
      expect(login.headers.getSetCookie()).toEqual([
        '_oauth2_proxy_csrf=abc; Path=/; HttpOnly',
        '_oauth2_proxy_rd=%2Fheaders; Path=/',
      ]);
      expect(await login.text()).toContain('Found');

      const session = await fetch(`${base}/headers`, { headers: { cookie: '_oauth2_proxy=session' } });
      expect(session.status).toBe(200);
      expect(session.headers.getSetCookie()).toEqual([
        '_oauth2_proxy_0=part0; Path=/; HttpOnly',
        '_oauth2_proxy_1=part1; Path=/; HttpOnly',
      ]);
      const seen = ((await session.json()) as { headers: Headers }).headers;
      expect(seen['x-auth-request-user']).toBe('alice');
    });
  },
);

/** The task's gRPC policy on /headers, and a second provider, the HTTP server, on /ip. */
const TWO_PROVIDERS = `${policy('sample-ext-authz-grpc')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz-ip, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: sample-ext-authz-http }
  rules:
  - to: [{ operation: { paths: ["/ip"] } }]
`;

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'two CUSTOM providers on one workload (Istio 1.30, PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS) with %s',
  (adapter) => {
    it('asks each provider for its own path when istiod has the flag', async () => {
      const base = await serve(adapter, '', {
        policies: TWO_PROVIDERS,
        istiodFeatures: { enableMultipleCustomAuthzProviders: true },
      });
      const grpcBefore = authz.seen.length;
      const httpBefore = httpChecks.length;

      expect((await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } })).status).toBe(200);
      const ip = await fetch(`${base}/ip`, { headers: { 'x-ext-authz': 'deny' } });
      expect([ip.status, await ip.text()]).toEqual([403, DENY_BODY]);
      expect((await fetch(`${base}/ip`, { headers: { 'x-ext-authz': 'allow' } })).status).toBe(200);

      expect(authz.seen.slice(grpcBefore).map((c) => c.attributes.request.http.path)).toEqual(['/headers']);
      expect(httpChecks.slice(httpBefore).map((c) => c.url)).toEqual(['/ip', '/ip']);
    });

    it("refuses both providers' paths without the flag, as istiod does by default", async () => {
      const base = await serve(adapter, '', { policies: TWO_PROVIDERS });
      const grpcBefore = authz.seen.length;
      for (const p of ['/headers', '/ip']) {
        const res = await fetch(`${base}${p}`, { headers: { 'x-ext-authz': 'allow' } });
        expect([res.status, await res.text()]).toEqual([403, 'RBAC: access denied']);
      }
      expect(authz.seen.length).toBe(grpcBefore);
    });
  },
);

describe('istiod feature flags from the process environment', () => {
  it('PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS=true in the environment turns the flag on', async () => {
    const name = 'PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS';
    const saved = process.env[name];
    process.env[name] = 'true';
    try {
      const base = await serve('express', '', { policies: TWO_PROVIDERS });
      const ip = await fetch(`${base}/ip`, { headers: { 'x-ext-authz': 'allow' } });
      expect(ip.status).toBe(200);
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  });
});
