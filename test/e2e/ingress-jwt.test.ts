import express from 'express';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { SAMPLES, useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet } from '../../packages/express/src/index.js';

// istio.io tasks/security/authentication/authn-policy, "End-user authentication" on the
// ingress gateway: RequestAuthentication with Istio's sample JWKS, then an
// AuthorizationPolicy that requires a token (07), then only on /headers (08). The jwksUri
// points at a loopback server serving the same jwks.json the task fetches from GitHub.
const TASK = path.join(SAMPLES, 'tasks/authn-policy');
const jwks = readFileSync(path.join(SAMPLES, 'jwt/jwks.json'), 'utf8');
const token = readFileSync(path.join(SAMPLES, 'jwt/demo.jwt'), 'utf8').trim();

const tmp = useTmpDir();
let jwksServer: http.Server;
let jwksUrl: string;
beforeAll(async () => {
  jwksServer = http.createServer((_req, res) => res.end(jwks));
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
});
afterAll(() => new Promise<void>((r) => jwksServer.close(() => r())));

async function gateway(policyFile: string): Promise<{ url: string; mesh: Mesh; close(): Promise<void> }> {
  const dir = await tmp();
  const ra = readFileSync(
    path.join(TASK, '06-requestauthentication-ingress-jwt-example.yaml'),
    'utf8',
  ).replace(/jwksUri: ".*"/, `jwksUri: "${jwksUrl}"`);
  await writeFile(path.join(dir, 'ra.yaml'), ra);
  await writeFile(path.join(dir, 'ap.yaml'), readFileSync(path.join(TASK, policyFile), 'utf8'));
  const mesh = await createMesh({
    config: dir,
    workload: {
      name: 'istio-ingressgateway',
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      labels: { istio: 'ingressgateway' },
    },
  });
  const app = express();
  app.use(meshlet({ mesh }));
  app.get('/headers', (_req, res) => res.json({ ok: 'headers' }));
  app.get('/ip', (_req, res) => res.json({ ok: 'ip' }));
  const server = await mesh.listen(app, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mesh,
    close: () => mesh.close(),
  };
}

const get = async (url: string, auth?: string) => {
  const res = await fetch(url, auth === undefined ? {} : { headers: { authorization: auth } });
  return { status: res.status, body: await res.text(), www: res.headers.get('www-authenticate') };
};

describe('ingress JWT: require a token (istio.io authn-policy task)', () => {
  it('07: no token 403, a bad token 401 with WWW-Authenticate, the sample token 200', async () => {
    const gw = await gateway('07-authorizationpolicy-frontend-ingress-require-token.yaml');
    try {
      expect(await get(`${gw.url}/headers`)).toMatchObject({ status: 403, body: 'RBAC: access denied' });
      const bad = await get(`${gw.url}/headers`, 'Bearer deadbeef');
      expect(bad.status).toBe(401);
      expect(bad.www).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/headers", error="invalid_token"$/);
      expect(await get(`${gw.url}/headers`, `Bearer ${token}`)).toMatchObject({
        status: 200,
        body: '{"ok":"headers"}',
      });
    } finally {
      await gw.close();
    }
  });

  it('08: the token is required on /headers only', async () => {
    const gw = await gateway('08-authorizationpolicy-frontend-ingress-require-token-headers-only.yaml');
    try {
      expect((await get(`${gw.url}/headers`)).status).toBe(403);
      expect(await get(`${gw.url}/ip`)).toMatchObject({ status: 200, body: '{"ok":"ip"}' });
      expect((await get(`${gw.url}/headers`, `Bearer ${token}`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
