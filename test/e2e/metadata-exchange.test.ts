import express from 'express';
import Fastify from 'fastify';
import { writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Registry } from 'prom-client';
import { headerRecorder } from '../support/header-recorder.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { decodeStruct } from '../../packages/core/src/telemetry/metadata-exchange/struct-wire.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';
import { useDevCa } from '../support/dev-ca.js';
import { lineCollector } from '../../packages/core/test/helpers/line-collector.js';

// Istio's HTTP metadata exchange between real services: each side sends its workload's
// metadata in `x-envoy-peer-metadata` (-id), the other labels its istio_* metrics with it
// and takes the headers off before the application sees them (istio/proxy peer_metadata
// filter; spec/telemetry.md "Peer-side labels").

/** What the reviews-v3 sidecar of Istio 1.14.5's Bookinfo sent (see metadata-exchange.test.ts). */
const ENVOY_REVIEWS_V3 =
  'ChsKDkFQUF9DT05UQUlORVJTEgkaB3Jldmlld3MKGgoKQ0xVU1RFUl9JRBIMGgpLdWJlcm5ldGVzCh4KDElOU1RBTkNFX0lQUxIOGgwxNzIuMTYuMC4xMzMKGQoNSVNUSU9fVkVSU0lPThIIGgYxLjE0LjUK0wEKBkxBQkVMUxLIASrFAQoQCgNhcHASCRoHcmV2aWV3cwofChFwb2QtdGVtcGxhdGUtaGFzaBIKGgg1OGI2NDc5YgokChlzZWN1cml0eS5pc3Rpby5pby90bHNNb2RlEgcaBWlzdGlvCiwKH3NlcnZpY2UuaXN0aW8uaW8vY2Fub25pY2FsLW5hbWUSCRoHcmV2aWV3cworCiNzZXJ2aWNlLmlzdGlvLmlvL2Nhbm9uaWNhbC1yZXZpc2lvbhIEGgJ2MwoPCgd2ZXJzaW9uEgQaAnYzChoKB01FU0hfSUQSDxoNY2x1c3Rlci5sb2NhbAojCgROQU1FEhsaGXJldmlld3MtdjMtNThiNjQ3OWItNjJydjUKFgoJTkFNRVNQQUNFEgkaB2RlZmF1bHQKTgoFT1dORVISRRpDa3ViZXJuZXRlczovL2FwaXMvYXBwcy92MS9uYW1lc3BhY2VzL2RlZmF1bHQvZGVwbG95bWVudHMvcmV2aWV3cy12MwoXChFQTEFURk9STV9NRVRBREFUQRICKgAKHQoNV09SS0xPQURfTkFNRRIMGgpyZXZpZXdzLXYz';
const ENVOY_REVIEWS_V3_ID =
  'sidecar~172.16.0.133~reviews-v3-58b6479b-62rv5.default~default.svc.cluster.local';

const MX = 'x-envoy-peer-metadata';
const MX_ID = 'x-envoy-peer-metadata-id';

const tmp = useTmpDir();
const { certsFor } = useDevCa(tmp);

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function mesh(
  workload: { name: string; serviceAccount: string; labels: Record<string, string> },
  config: string,
  extra: Parameters<typeof createMesh>[0] = {},
): Promise<Mesh & { registry: Registry }> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config);
  const registry = new Registry();
  const m = await createMesh({
    config: dir,
    workload: { ...workload, namespace: 'default' },
    telemetry: { registry, env: { INSTANCE_IP: '10.0.0.9' } },
    ...extra,
  });
  closers.push(() => m.close());
  return Object.assign(m, { registry });
}

/** `istio_requests_total` series of a registry, as label objects. */
async function requests(registry: Registry): Promise<Record<string, string | number>[]> {
  const metric = await registry.getSingleMetric('istio_requests_total')!.get();
  return metric.values.map((v) => ({ ...v.labels }) as Record<string, string | number>);
}

const DENY_ADMIN_DEFAULT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
`;

const REVIEWS_SERVICE = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
`;

describe('metadata exchange between two meshes over mTLS', () => {
  it('labels both sides with the peer workload, and neither application sees the headers', async () => {
    const reviews = await mesh(
      { name: 'reviews-v2', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } },
      REVIEWS_SERVICE,
      { certs: await certsFor('bookinfo-reviews') },
    );
    const seen: IncomingHttpHeaders[] = [];
    const app = Fastify({ serverFactory: reviews.serverFactory });
    await app.register(meshletFastify, { mesh: reviews });
    app.get('/reviews/:id', (request) => {
      seen.push(request.headers);
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;

    const productpage = await mesh(
      {
        name: 'productpage-v1',
        serviceAccount: 'bookinfo-productpage',
        labels: { app: 'productpage', version: 'v1' },
      },
      REVIEWS_SERVICE,
      {
        certs: await certsFor('bookinfo-productpage'),
        endpoints: {
          'reviews.default.svc.cluster.local': [
            {
              address: '127.0.0.1',
              port,
              labels: { app: 'reviews', version: 'v2' },
              serviceAccount: 'bookinfo-reviews',
            },
          ],
        },
      },
    );
    const res = await productpage.fetch('http://reviews:9080/reviews/1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    // Taken off the response by the caller's side, off the request by the server's.
    expect(res.headers.get(MX)).toBeNull();
    expect(res.headers.get(MX_ID)).toBeNull();
    expect(seen).toHaveLength(1);
    expect(seen[0]![MX]).toBeUndefined();
    expect(seen[0]![MX_ID]).toBeUndefined();

    // reporter=destination: the caller's workload labels came in its metadata; the principal
    // and namespace from its certificate.
    await expect.poll(() => requests(reviews.registry)).toHaveLength(1);
    expect((await requests(reviews.registry))[0]).toMatchObject({
      reporter: 'destination',
      source_workload: 'productpage-v1',
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
      source_app: 'productpage',
      source_version: 'v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2',
      connection_security_policy: 'mutual_tls',
      response_code: '200',
    });
    // reporter=source: the endpoint registry does not know the workload name; the answer's
    // metadata does.
    await expect.poll(() => requests(productpage.registry)).toHaveLength(1);
    expect((await requests(productpage.registry))[0]).toMatchObject({
      reporter: 'source',
      source_workload: 'productpage-v1',
      destination_workload: 'reviews-v2',
      destination_workload_namespace: 'default',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2',
      destination_cluster: 'Kubernetes',
      destination_service: 'reviews.default.svc.cluster.local',
    });
  });
});

describe('metadata exchange with an Istio sidecar as the caller', () => {
  /** A PERMISSIVE Express service (plaintext accepted) that records what its app saw. */
  async function expressReviews(): Promise<{
    url: string;
    seen: IncomingHttpHeaders[];
    mesh: Mesh & { registry: Registry };
  }> {
    const m = await mesh(
      { name: 'ratings-v1', serviceAccount: 'bookinfo-ratings', labels: { app: 'ratings', version: 'v1' } },
      DENY_ADMIN_DEFAULT,
    );
    const seen: IncomingHttpHeaders[] = [];
    const app = express();
    app.use(meshletExpress({ mesh: m }));
    app.get('/ratings/:id', (req, res) => {
      seen.push(req.headers);
      res.json({ rawHeaders: req.rawHeaders.filter((_, i) => i % 2 === 0) });
    });
    const server = await m.listen(app, 0, '127.0.0.1');
    const port = (server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, seen, mesh: m };
  }

  it("reads the sidecar's metadata, answers with its own on every response, and hides both from the app", async () => {
    const ratings = await expressReviews();
    const headers = { [MX]: ENVOY_REVIEWS_V3, [MX_ID]: ENVOY_REVIEWS_V3_ID };
    const ok = await fetch(`${ratings.url}/ratings/0`, { headers });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { rawHeaders: string[] };
    expect(body.rawHeaders.map((h) => h.toLowerCase())).not.toContain(MX);
    expect(body.rawHeaders.map((h) => h.toLowerCase())).not.toContain(MX_ID);
    expect(ratings.seen[0]![MX]).toBeUndefined();
    expect(ratings.seen[0]![MX_ID]).toBeUndefined();
    expect(ok.headers.get(MX_ID)).toBe('sidecar~10.0.0.9~ratings-v1.default~default.svc.cluster.local');
    expect(decodeStruct(Buffer.from(ok.headers.get(MX)!, 'base64'))).toMatchObject({
      NAME: 'ratings-v1',
      NAMESPACE: 'default',
      WORKLOAD_NAME: 'ratings-v1',
      CLUSTER_ID: 'Kubernetes',
      LABELS: { app: 'ratings', version: 'v1', 'service.istio.io/canonical-name': 'ratings' },
    });

    // A refusal is a local reply, which passes back through the exchange filter too.
    const denied = await fetch(`${ratings.url}/admin`, { headers });
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe('RBAC: access denied');
    expect(denied.headers.get(MX_ID)).toBe(ok.headers.get(MX_ID));
    expect(denied.headers.get(MX)).toBe(ok.headers.get(MX));

    // Plaintext: no certificate, so the namespace is the metadata's and the principal unknown.
    await expect.poll(async () => (await requests(ratings.mesh.registry)).length).toBe(2);
    const rows = await requests(ratings.mesh.registry);
    for (const code of ['200', '403'])
      expect(rows.find((r) => r['response_code'] === code)).toMatchObject({
        reporter: 'destination',
        source_workload: 'reviews-v3',
        source_workload_namespace: 'default',
        source_principal: 'unknown',
        source_app: 'reviews',
        source_version: 'v3',
        source_canonical_service: 'reviews',
        source_canonical_revision: 'v3',
        source_cluster: 'Kubernetes',
        connection_security_policy: 'none',
      });
  });

  it('exchanges with telemetry off too, as the filter does not depend on it', async () => {
    const m = await mesh(
      { name: 'details-v1', serviceAccount: 'bookinfo-details', labels: { app: 'details' } },
      '',
      { telemetry: false },
    );
    const seen: IncomingHttpHeaders[] = [];
    const app = express();
    app.use(meshletExpress({ mesh: m }));
    app.get('/details', (req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    const port = ((await m.listen(app, 0, '127.0.0.1')).address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/details`, {
      headers: { [MX]: ENVOY_REVIEWS_V3, [MX_ID]: ENVOY_REVIEWS_V3_ID },
    });
    expect(res.status).toBe(200);
    expect(seen[0]![MX]).toBeUndefined();
    expect(seen[0]![MX_ID]).toBeUndefined();
    // Without telemetry options the id carries this host's address, not INSTANCE_IP's.
    expect(res.headers.get(MX_ID)).toMatch(
      /^sidecar~[\d.]+~details-v1\.default~default\.svc\.cluster\.local$/,
    );
    expect(decodeStruct(Buffer.from(res.headers.get(MX)!, 'base64'))).toMatchObject({
      WORKLOAD_NAME: 'details-v1',
    });
  });

  it("logs the request as Envoy's access log reads it: without the exchange headers", async () => {
    const lines: string[] = [];
    const m = await mesh(
      { name: 'details-v1', serviceAccount: 'bookinfo-details', labels: { app: 'details' } },
      '',
      {
        meshConfig: {
          accessLogFile: '/dev/stdout',
          accessLogFormat: '%REQ(X-ENVOY-PEER-METADATA-ID)%|%REQ(X-APP)%\n',
        },
        telemetry: { otlp: false, accessLogSink: { stream: lineCollector(lines) } },
      },
    );
    const app = express();
    app.use(meshletExpress({ mesh: m }));
    app.get('/details', (_req, res) => res.end('ok'));
    const port = ((await m.listen(app, 0, '127.0.0.1')).address() as AddressInfo).port;
    await (
      await fetch(`http://127.0.0.1:${port}/details`, {
        headers: { [MX_ID]: ENVOY_REVIEWS_V3_ID, 'x-app': 'a' },
      })
    ).text();
    await expect.poll(() => lines).toEqual(['-|a']);
  });

  it('answers only what the caller sent, and nothing to a caller outside the mesh', async () => {
    const ratings = await expressReviews();
    const idOnly = await fetch(`${ratings.url}/ratings/0`, { headers: { [MX_ID]: ENVOY_REVIEWS_V3_ID } });
    expect(idOnly.headers.get(MX_ID)).toBe('sidecar~10.0.0.9~ratings-v1.default~default.svc.cluster.local');
    expect(idOnly.headers.get(MX)).toBeNull();
    const plain = await fetch(`${ratings.url}/ratings/0`);
    expect(plain.headers.get(MX_ID)).toBeNull();
    expect(plain.headers.get(MX)).toBeNull();
    // A value that is not metadata finds no peer: the labels stay unknown, nothing fails.
    const garbage = await fetch(`${ratings.url}/ratings/0`, { headers: { [MX]: '%%%not-base64' } });
    expect(garbage.status).toBe(200);
    await expect.poll(async () => (await requests(ratings.mesh.registry)).length).toBeGreaterThan(0);
    const rows = await requests(ratings.mesh.registry);
    expect(rows.every((r) => r['source_workload'] === 'unknown')).toBe(true);
  });
});

describe('metadata exchange to services outside the mesh', () => {
  const recorder = () => headerRecorder(closers);

  const externalConfig = (port: number, proxyHeaders: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: internal, namespace: default }
spec:
  hosts: [internal.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    defaultConfig:
      proxyHeaders:
${proxyHeaders}
`;

  it("sends them to a MESH_EXTERNAL service and through ALLOW_ANY by default, as Istio's default does", async () => {
    const api = await recorder();
    const client = await mesh(
      { name: 'productpage-v1', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage' } },
      externalConfig(api.port, '        server: { value: envoy }'),
    );
    await (await client.fetch('http://api.example.com/x')).text();
    await (await client.fetch(`http://127.0.0.1:${api.port}/passthrough`)).text();
    await (await client.fetch('http://internal.example.com/x')).text();
    expect(api.seen).toHaveLength(3);
    for (const h of api.seen) {
      expect(h[MX_ID]).toBe('sidecar~10.0.0.9~productpage-v1.default~default.svc.cluster.local');
      expect(decodeStruct(Buffer.from(h[MX] as string, 'base64'))).toMatchObject({
        WORKLOAD_NAME: 'productpage-v1',
        LABELS: { app: 'productpage', 'service.istio.io/canonical-revision': 'latest' },
      });
    }
  });

  it('sends none outside the mesh with metadataExchangeHeaders.mode IN_MESH, and still sends them inside', async () => {
    const api = await recorder();
    const client = await mesh(
      { name: 'productpage-v1', serviceAccount: 'bookinfo-productpage', labels: { app: 'productpage' } },
      externalConfig(api.port, '        metadataExchangeHeaders: { mode: IN_MESH }'),
    );
    await (await client.fetch('http://api.example.com/x')).text();
    await (await client.fetch(`http://127.0.0.1:${api.port}/passthrough`)).text();
    await (await client.fetch('http://internal.example.com/x')).text();
    expect(api.seen).toHaveLength(3);
    for (const h of api.seen.slice(0, 2)) {
      expect(h[MX]).toBeUndefined();
      expect(h[MX_ID]).toBeUndefined();
    }
    // A service inside the mesh still gets them.
    expect(api.seen[2]![MX_ID]).toBe('sidecar~10.0.0.9~productpage-v1.default~default.svc.cluster.local');
  });
});
