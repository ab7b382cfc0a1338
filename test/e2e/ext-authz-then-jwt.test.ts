import express from 'express';
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { SAMPLES, useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// istiod chains a sidecar's CUSTOM filters (ext_authz) before jwt_authn
// (pilot/pkg/networking/core/listener_builder.go), which the oauth2-proxy setups of
// istio.io's "Better External Authorization" blog rely on: the proxy swaps a session cookie
// for the user's token on the request (headersToUpstreamOnAllow), and RequestAuthentication
// verifies that token, so AuthorizationPolicy can require its principal. Real servers on
// loopback: an oauth2-proxy stand-in, a JWKS server with Istio's sample keys, the app.

const jwks = readFileSync(path.join(SAMPLES, 'jwt/jwks.json'), 'utf8');
const token = readFileSync(path.join(SAMPLES, 'jwt/demo.jwt'), 'utf8').trim();
// demo.jwt: iss and sub "testing@secure.istio.io".
const PRINCIPAL = 'testing@secure.istio.io/testing@secure.istio.io';

const tmp = useTmpDir();
const servers: Server[] = [];
const checks: IncomingHttpHeaders[] = [];
let jwksUrl = '';
let proxyPort = 0;

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  jwksUrl = `http://127.0.0.1:${await listen(createServer((_req, res) => res.end(jwks)))}/jwks.json`;
  // oauth2-proxy with --set-authorization-header: a session becomes the user's token.
  proxyPort = await listen(
    createServer((req, res) => {
      checks.push(req.headers);
      if ((req.headers.cookie ?? '').includes('_oauth2_proxy=session')) {
        res.setHeader('authorization', `Bearer ${token}`);
        res.end();
        return;
      }
      res.statusCode = 401;
      res.end('login required');
    }),
  );
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

async function config(): Promise<string> {
  const dir = await tmp();
  await writeFile(
    path.join(dir, 'mesh.yaml'),
    `${istioConfigMap(`
extensionProviders:
- name: oauth2-proxy
  envoyExtAuthzHttp:
    service: 127.0.0.1
    port: "${proxyPort}"
    includeRequestHeadersInCheck: [cookie, authorization]
    headersToUpstreamOnAllow: [authorization]
`)}apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: oauth2-proxy, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: oauth2-proxy }
  rules: [{ to: [{ operation: { paths: ["/headers"] } }] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: ${jwksUrl}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-user, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ from: [{ source: { requestPrincipals: ["${PRINCIPAL}"] } }] }]
`,
  );
  return dir;
}

interface Seen {
  principal: string | null;
  authorization: string | null;
}

const ADAPTERS = {
  fastify: async (mesh: Mesh) => {
    const app = Fastify();
    await app.register(meshletFastify, { mesh });
    app.get('/headers', (req): Seen => ({
      principal: req.meshlet.auth?.principal ?? null,
      authorization: req.headers.authorization ?? null,
    }));
    await app.ready();
    return mesh.listen(app.server, 0, '127.0.0.1');
  },
  express: async (mesh: Mesh) => {
    const app = express();
    app.use(meshletExpress({ mesh }));
    app.get('/headers', (req, res) => {
      const seen: Seen = {
        principal: req.meshlet?.auth?.principal ?? null,
        authorization: req.headers.authorization ?? null,
      };
      res.json(seen);
    });
    return mesh.listen(app, 0, '127.0.0.1');
  },
};

describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])(
  'CUSTOM (oauth2-proxy) then RequestAuthentication with %s',
  (adapter) => {
    it('verifies the token the provider puts on the request, and hides it from the app', async () => {
      const mesh = await createMesh({
        config: await config(),
        workload: {
          name: 'httpbin',
          namespace: 'foo',
          serviceAccount: 'httpbin',
          labels: { app: 'httpbin' },
        },
      });
      meshes.push(mesh);
      const server = await ADAPTERS[adapter](mesh);
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const before = checks.length;

      const res = await fetch(`${base}/headers`, { headers: { cookie: '_oauth2_proxy=session' } });
      expect(res.status).toBe(200);
      // RequestAuthentication verified the proxy's token; forwardOriginalToken is false.
      expect((await res.json()) as Seen).toEqual({ principal: PRINCIPAL, authorization: null });

      // Without a session the provider answers first: its 401, not jwt_authn's.
      const login = await fetch(`${base}/headers`);
      expect([login.status, await login.text()]).toEqual([401, 'login required']);

      // A caller's own forged token reaches the provider as sent (ext_authz runs first),
      // and the provider's refusal stands.
      const forged = await fetch(`${base}/headers`, { headers: { authorization: 'Bearer forged' } });
      expect(forged.status).toBe(401);
      expect(checks.slice(before).map((h) => h.authorization)).toEqual([
        undefined,
        undefined,
        'Bearer forged',
      ]);
    });
  },
);
