import express from 'express';
import Fastify from 'fastify';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh, type MeshletRequestContext } from '../../packages/core/src/index.js';
import { createDevCa, issueWorkloadCertificate } from '../../packages/core/src/identity/dev-ca.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress, type MeshletRequest } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';
import { useDevCa } from '../support/dev-ca.js';

// Two meshes talking over real mTLS on loopback: the caller's auto mTLS presents its
// SPIFFE certificate, the server's STRICT PeerAuthentication demands one, and the
// AuthorizationPolicy admits only the productpage identity (istio.io authz-http task).
const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/bookinfo-productpage"] } }]
    to: [{ operation: { methods: ["GET"], paths: ["/reviews/*"] } }]
`;

const tmp = useTmpDir();
const devCa = useDevCa(tmp);
const { certsFor } = devCa;

const open: Mesh[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

async function configDir(): Promise<string> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), CONFIG);
  return dir;
}

async function mesh(
  name: string,
  serviceAccount: string,
  app: string,
  extra: Parameters<typeof createMesh>[0] = {},
) {
  const m = await createMesh({
    config: await configDir(),
    workload: { name, namespace: 'default', serviceAccount, labels: { app, version: 'v1' } },
    certs: await certsFor(serviceAccount),
    ...extra,
  });
  open.push(m);
  return m;
}

const reviewsEndpoint = (port: number) => ({
  'reviews.default.svc.cluster.local': [
    {
      address: '127.0.0.1',
      port,
      labels: { app: 'reviews', version: 'v1' },
      serviceAccount: 'bookinfo-reviews',
    },
  ],
});

describe('two meshes over mTLS on loopback', () => {
  it('serves an Express app under STRICT to the allowed identity, denies others, refuses plaintext', async () => {
    const reviews = await mesh('reviews-v1', 'bookinfo-reviews', 'reviews');
    const app = express();
    app.use(meshletExpress({ mesh: reviews }));
    app.get('/reviews/:id', (req, res) => {
      const ctx = (req as unknown as MeshletRequest).meshlet;
      const sni = (req.socket as { servername?: string | false }).servername;
      res.json({ id: req.params['id'], peer: ctx.peer?.principal ?? null, sni: sni || null });
    });
    const server = await reviews.listen(app, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;

    const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
      endpoints: reviewsEndpoint(port),
    });
    const ok = await productpage.fetch('http://reviews:9080/reviews/7');
    expect(ok.status).toBe(200);
    // Auto mTLS sends istiod's SNI for the service port (cluster_builder.go istioMtlsSni,
    // BuildDNSSrvSubsetKey with no subset), which `connection.sni` and access logs read.
    expect(await ok.json()).toEqual({
      id: '7',
      peer: 'cluster.local/ns/default/sa/bookinfo-productpage',
      sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    });
    expect(ok.meshlet.upstream?.address).toBe(`127.0.0.1:${port}`);
    // Both sides report Istio's metric: the server with the verified peer and mutual_tls.
    const serverSide = async () => reviews.metrics!.metrics();
    let exposition = await serverSide();
    for (let i = 0; i < 50 && !exposition.includes('reporter="destination"'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      exposition = await serverSide();
    }
    expect(exposition).toMatch(
      /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage"[^}]*connection_security_policy="mutual_tls"[^}]*\} 1/,
    );
    expect(await productpage.metrics!.metrics()).toMatch(
      /istio_requests_total\{reporter="source",[^}]*response_code="200"/,
    );

    const sleep = await mesh('sleep', 'sleep', 'sleep', { endpoints: reviewsEndpoint(port) });
    const denied = await sleep.fetch('http://reviews:9080/reviews/7');
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe('RBAC: access denied');

    // A plaintext client outside the mesh: STRICT closes the connection, no HTTP status.
    await expect(fetch(`http://127.0.0.1:${port}/reviews/7`)).rejects.toThrow();
  });

  it('serves a Fastify app through serverFactory with the verified peer on request.meshlet', async () => {
    const reviews = await mesh('reviews-v1', 'bookinfo-reviews', 'reviews');
    const app = Fastify({ serverFactory: reviews.serverFactory });
    await app.register(meshletFastify, { mesh: reviews });
    let seen: MeshletRequestContext | null = null;
    let seenUrl = '';
    app.get('/reviews/:id', (request) => {
      seen = request.meshlet;
      seenUrl = request.url;
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
        endpoints: reviewsEndpoint(port),
      });
      const res = await productpage.fetch('http://reviews:9080/reviews/1');
      expect(res.status).toBe(200);
      expect(seen).toMatchObject({
        peer: { principal: 'cluster.local/ns/default/sa/bookinfo-productpage', namespace: 'default' },
      });
      const post = await productpage.fetch('http://reviews:9080/reviews/1', { method: 'POST', body: '{}' });
      expect(post.status).toBe(403);
      // Through serverFactory too, the path authorization checked is the path Fastify routes on:
      // BASE normalization decodes %32 before routing, as Envoy forwards the normalized path
      // (a URL parser on the client keeps %32, unlike dot segments, which it resolves itself).
      const dotted = await productpage.fetch('http://reviews:9080/reviews/%32');
      expect(dotted.status).toBe(200);
      expect(seenUrl).toBe('/reviews/2');
    } finally {
      await app.close();
    }
  });

  it('refuses a server whose identity is not the service account the endpoint runs as', async () => {
    const impostor = await mesh('reviews-v1', 'not-reviews', 'reviews');
    const server = await impostor.listen((_req, res) => res.end('secret'), 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;
    const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
      endpoints: reviewsEndpoint(port),
    });
    const res = await productpage.fetch('http://reviews:9080/reviews/1');
    expect(res.status).toBe(503);
    expect(res.meshlet.flags).toContain('UF');
  });

  it('meshConfig meshMTLS.minProtocolVersion TLSV1_3 is the mesh server side only, as in Istio', async () => {
    // A reviews upstream that speaks only TLS 1.2, with a valid mesh identity.
    const cert = await issueWorkloadCertificate({
      ca: devCa.ca(),
      namespace: 'default',
      serviceAccount: 'bookinfo-reviews',
      ttl: '1h',
    });
    const old = createHttpsServer(
      { key: cert.keyPem, cert: cert.certChainPem, ca: cert.rootCertPem, maxVersion: 'TLSv1.2' },
      (_req, res) => res.end('tls1.2 ok'),
    );
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    try {
      const tls13 = { meshMTLS: { minVersion: 'TLSv1.3' as const, cipherSuites: [] } };
      // The client side of ISTIO_MUTUAL is not shaped by meshMTLS (istio cluster_tls.go).
      const client13 = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
        endpoints: reviewsEndpoint((old.address() as AddressInfo).port),
        meshConfig: tls13,
      });
      expect(await (await client13.fetch('http://reviews:9080/reviews/1')).text()).toBe('tls1.2 ok');
      // The server side is: a TLS 1.3-only reviews serves a default mesh client over TLS 1.3.
      const reviews = await mesh('reviews-v1', 'bookinfo-reviews', 'reviews', { meshConfig: tls13 });
      const server = await reviews.listen(
        (req, res) => res.end((req.socket as TLSSocket).getProtocol() ?? ''),
        0,
        '127.0.0.1',
      );
      const client = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
        endpoints: reviewsEndpoint((server.address() as AddressInfo).port),
      });
      expect(await (await client.fetch('http://reviews:9080/reviews/1')).text()).toBe('TLSv1.3');
    } finally {
      await new Promise((r) => old.close(r));
    }
  });

  it('meshConfig tlsDefaults shapes DestinationRule SIMPLE origination (not ISTIO_MUTUAL)', async () => {
    const cert = await issueWorkloadCertificate({
      ca: devCa.ca(),
      namespace: 'default',
      serviceAccount: 'api',
      ttl: '1h',
    });
    const api = createHttpsServer(
      {
        key: cert.keyPem,
        cert: cert.certChainPem,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      },
      (_req, res) => res.end('api ok'),
    );
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    try {
      const dir = await tmp();
      const caFile = path.join(dir, 'ca.pem');
      await writeFile(caFile, cert.rootCertPem);
      await writeFile(
        path.join(dir, 'api.yaml'),
        `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${(api.address() as AddressInfo).port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec:
  host: api.example.com
  trafficPolicy:
    tls:
      mode: SIMPLE
      caCertificates: ${caFile}
      subjectAltNames: [spiffe://cluster.local/ns/default/sa/api]
`,
      );
      const caller = async (cipherSuites: string[]) => {
        const m = await createMesh({
          config: dir,
          workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
          meshConfig: { tlsDefaults: { ecdhCurves: [], cipherSuites } },
        });
        open.push(m);
        return m.fetch('http://api.example.com/');
      };
      expect(await (await caller([])).text()).toBe('api ok');
      expect(await (await caller(['ECDHE-RSA-AES256-GCM-SHA384'])).text()).toBe('api ok');
      const noShared = await caller(['ECDHE-RSA-AES128-GCM-SHA256']);
      expect(noShared.status).toBe(503);
      expect(noShared.meshlet.flags).toContain('UF');
    } finally {
      await new Promise((r) => api.close(r));
    }
  });

  it('meshConfig caCertificates lets a peer from another CA and trust domain in, only with its trustDomains', async () => {
    // A partner mesh: its own root CA and trust domain.
    const partnerCa = await createDevCa();
    const partnerDir = path.join(await tmp(), 'partner');
    await mkdir(partnerDir);
    await writeWorkloadCertificates(
      partnerDir,
      await issueWorkloadCertificate({
        ca: partnerCa,
        trustDomain: 'partner.example',
        namespace: 'default',
        serviceAccount: 'partner',
        ttl: '1h',
      }),
    );
    // ratings (no AuthorizationPolicy selects it) under STRICT, trusting the partner per caCertificates.
    const ratingsWith = async (caCertificates: readonly Record<string, unknown>[]) => {
      const dir = await tmp();
      await writeFile(path.join(dir, 'mesh.yaml'), CONFIG);
      await writeFile(
        path.join(dir, 'mesh-config.yaml'),
        istioConfigMap(`caCertificates: ${JSON.stringify(caCertificates)}`),
      );
      const m = await createMesh({
        config: dir,
        workload: {
          name: 'ratings-v1',
          namespace: 'default',
          serviceAccount: 'ratings',
          labels: { app: 'ratings' },
        },
        certs: await certsFor('ratings'),
      });
      open.push(m);
      const seen: (string | null)[] = [];
      const refusals: string[] = [];
      const server = await m.listen(
        (req, res) => {
          seen.push(m.inbound.peerOf(req.socket)?.principal ?? null);
          res.end('rated');
        },
        0,
        '127.0.0.1',
      );
      server.on('meshConnectionRefused', (r: { detail: string }) => refusals.push(r.detail));
      return { port: (server.address() as AddressInfo).port, seen, refusals };
    };
    // The partner's client trusts this mesh's root for cluster.local and expects ratings' identity.
    const partnerConfig = await tmp();
    await writeFile(
      path.join(partnerConfig, 'ratings.yaml'),
      `apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
`,
    );
    const partner = async (port: number) => {
      const m = await createMesh({
        config: partnerConfig,
        workload: {
          name: 'partner',
          namespace: 'default',
          serviceAccount: 'partner',
          labels: { app: 'partner' },
        },
        certs: partnerDir,
        meshConfig: {
          trustDomain: 'partner.example',
          caCertificates: [
            {
              pem: devCa.ca().rootCertPem,
              spiffeBundleUrl: null,
              trustDomains: ['cluster.local'],
              certSigners: [],
            },
          ],
        },
        endpoints: {
          'ratings.default.svc.cluster.local': [
            {
              address: '127.0.0.1',
              port,
              labels: { app: 'ratings' },
              serviceAccount: 'spiffe://cluster.local/ns/default/sa/ratings',
            },
          ],
        },
      });
      open.push(m);
      return m.fetch('http://ratings.default.svc.cluster.local:9080/');
    };

    // Without the partner's root the server refuses the unknown CA.
    const none = await ratingsWith([]);
    expect((await partner(none.port)).status).toBe(503);
    await expect.poll(() => none.refusals).toEqual([expect.stringMatching(/not verified/)]);
    // With the root but not its trust domain, the chain verifies but the SPIFFE ID is foreign.
    const rootOnly = await ratingsWith([{ pem: partnerCa.rootCertPem }]);
    expect((await partner(rootOnly.port)).status).toBe(503);
    await expect
      .poll(() => rootOnly.refusals)
      .toEqual([expect.stringMatching(/no SPIFFE ID in an accepted trust domain.*partner\.example/)]);
    // With both, the partner is served and seen with its own identity.
    const both = await ratingsWith([{ pem: partnerCa.rootCertPem, trustDomains: ['partner.example'] }]);
    const ok = await partner(both.port);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('rated');
    expect(both.seen).toEqual(['partner.example/ns/default/sa/partner']);
    expect(both.refusals).toEqual([]);
    expect([none.seen, rootOnly.seen]).toEqual([[], []]);
  });
});
