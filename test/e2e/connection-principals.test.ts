import express from 'express';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet } from '../../packages/express/src/index.js';
import { useDevCa } from '../support/dev-ca.js';

// istio_stats.cc takes source_principal and destination_principal from the connection's
// certificates (URI SANs): the local one from the proxy's own side of the TLS connection,
// the peer's from the other. A plaintext request has neither, so Istio reports `unknown`
// for both on either reporter (istio/proxy testdata/metric/client_request_total.yaml.tmpl
// and server_request_total.yaml.tmpl, plaintext in stats_test.go "Default"), even with
// metadata exchange and a certificate the workload could have presented.

const CONFIG = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
`;
const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';
const REVIEWS_ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';

const tmp = useTmpDir();
const { certsFor } = useDevCa(tmp);
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function mesh(
  name: string,
  serviceAccount: string,
  app: string,
  extra: Parameters<typeof createMesh>[0] = {},
) {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), CONFIG);
  const m = await createMesh({
    config: dir,
    workload: { name, namespace: 'default', serviceAccount, labels: { app, version: 'v1' } },
    certs: await certsFor(serviceAccount),
    telemetry: { otlp: false },
    ...extra,
  });
  closers.push(() => m.close());
  return m;
}

async function reviewsServer(): Promise<{ mesh: Mesh; port: number }> {
  const m = await mesh('reviews-v1', 'bookinfo-reviews', 'reviews');
  const app = express();
  app.use(meshlet({ mesh: m }));
  app.get('/reviews/:id', (_req, res) => res.send('ok'));
  const server = await m.listen(app, 0, '127.0.0.1');
  return { mesh: m, port: (server.address() as AddressInfo).port };
}

async function plainUpstream(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return (server.address() as AddressInfo).port;
}

type Row = Record<string, string | number>;
async function rows(m: Mesh, reporter: string): Promise<Row[]> {
  const metric = await m.metrics!.getSingleMetric('istio_requests_total')?.get();
  return (metric?.values ?? [])
    .map((v) => ({ ...v.labels }) as Row)
    .filter((r) => r['reporter'] === reporter);
}
const principals = (r: Row | undefined) => [r?.['source_principal'], r?.['destination_principal']];

describe('principals on plaintext and mTLS connections', () => {
  it('server: unknown for a plaintext request, both SPIFFE IDs for an mTLS one', async () => {
    const reviews = await reviewsServer();
    const plain = await fetch(`http://127.0.0.1:${reviews.port}/reviews/1`);
    expect(plain.status).toBe(200);
    await expect.poll(async () => (await rows(reviews.mesh, 'destination')).length).toBe(1);
    const [plaintext] = await rows(reviews.mesh, 'destination');
    expect(principals(plaintext)).toEqual(['unknown', 'unknown']);
    expect(plaintext!['connection_security_policy']).toBe('none');

    const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
      endpoints: {
        'reviews.default.svc.cluster.local': [
          {
            address: '127.0.0.1',
            port: reviews.port,
            labels: { app: 'reviews' },
            serviceAccount: 'bookinfo-reviews',
          },
        ],
      },
    });
    const res = await productpage.fetch('http://reviews:9080/reviews/2');
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    await expect.poll(async () => (await rows(reviews.mesh, 'destination')).length).toBe(2);
    const mtls = (await rows(reviews.mesh, 'destination')).find(
      (r) => r['connection_security_policy'] === 'mutual_tls',
    );
    expect(principals(mtls)).toEqual([PRODUCTPAGE_ID, REVIEWS_ID]);
  });

  it('client: unknown for a plaintext call, to a mesh endpoint or outside the mesh', async () => {
    const external = await plainUpstream();
    const ratings = await plainUpstream();
    const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
      endpoints: {
        // A workload with a service account but no sidecar: auto mTLS sends it plaintext.
        'ratings.default.svc.cluster.local': [
          {
            address: '127.0.0.1',
            port: ratings,
            labels: { app: 'ratings', 'security.istio.io/tlsMode': 'disabled' },
            serviceAccount: 'bookinfo-ratings',
          },
        ],
      },
    });
    for (const url of [
      `http://127.0.0.1:${external}/x`,
      `http://ratings.default.svc.cluster.local:${ratings}/r`,
    ]) {
      const res = await productpage.fetch(url);
      expect([res.status, await res.text()]).toEqual([200, 'ok']);
    }
    await expect.poll(async () => (await rows(productpage, 'source')).length).toBe(2);
    for (const r of await rows(productpage, 'source')) expect(principals(r)).toEqual(['unknown', 'unknown']);
  });

  // Pending the outbound wiring: call-observer.ts must report whether the answering try used
  // ISTIO_MUTUAL (`mtls` of MetricEvent). Until then every call reads as plaintext; drop
  // `.fails` once it does.
  it('client: both SPIFFE IDs for an ISTIO_MUTUAL call', async () => {
    const reviews = await reviewsServer();
    const productpage = await mesh('productpage-v1', 'bookinfo-productpage', 'productpage', {
      endpoints: {
        'reviews.default.svc.cluster.local': [
          {
            address: '127.0.0.1',
            port: reviews.port,
            labels: { app: 'reviews' },
            serviceAccount: 'bookinfo-reviews',
          },
        ],
      },
    });
    const res = await productpage.fetch('http://reviews:9080/reviews/3');
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    await expect.poll(async () => (await rows(productpage, 'source')).length).toBe(1);
    expect(principals((await rows(productpage, 'source'))[0])).toEqual([PRODUCTPAGE_ID, REVIEWS_ID]);
  });
});
