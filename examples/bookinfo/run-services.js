// Step 5 of the demo: the same YAML, enforced between real processes' worth of services
// on loopback — mTLS between meshes, a canary, a split, an authorization denial, the ingress
// gateway, and a TCP service (mongodb) with its own AuthorizationPolicy.
import http from 'node:http';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { createDevCa, createMesh, issueWorkloadCertificate, writeWorkloadCertificates } from '@meshlet/core';
import { meshlet as meshletExpress } from '@meshlet/express';
import { meshlet as meshletFastify } from '@meshlet/fastify';
import { findRatings, mongodbStandIn } from './mongodb.js';

export async function runServices({ meshDir, log }) {
  const scratch = await mkdtemp(path.join(tmpdir(), 'meshlet-demo-certs-'));
  const ca = await createDevCa();
  let n = 0;
  const certsFor = async (serviceAccount, namespace) => {
    const dir = path.join(scratch, `${n++}-${serviceAccount}`);
    await mkdir(dir);
    await writeWorkloadCertificates(
      dir,
      await issueWorkloadCertificate({ ca, namespace, serviceAccount, ttl: '1h' }),
    );
    return dir;
  };
  const meshes = [];
  const newMesh = async (name, serviceAccount, labels, endpoints, namespace = 'default') => {
    const mesh = await createMesh({
      config: meshDir,
      workload: { name, namespace, serviceAccount, labels },
      certs: await certsFor(serviceAccount, namespace),
      ...(endpoints ? { endpoints } : {}),
    });
    meshes.push(mesh);
    return mesh;
  };

  try {
    // reviews v1 and v3 on Express, v2 on Fastify; each its own mesh workload, STRICT mTLS.
    const reviewsEndpoints = [];
    for (const version of ['v1', 'v2', 'v3']) {
      const mesh = await newMesh(`reviews-${version}`, 'bookinfo-reviews', { app: 'reviews', version });
      let port;
      if (version === 'v2') {
        const app = Fastify({ serverFactory: mesh.serverFactory });
        await app.register(meshletFastify, { mesh });
        app.get('/reviews/:id', (req) => ({ version, caller: req.meshlet.peer?.principal ?? null }));
        await app.listen({ port: 0, host: '127.0.0.1' });
        port = app.server.address().port;
        meshes.push({ close: () => app.close() });
      } else {
        const app = express();
        app.use(meshletExpress({ mesh }));
        app.get('/reviews/:id', (req, res) =>
          res.json({ version, caller: req.meshlet.peer?.principal ?? null }),
        );
        port = (await mesh.listen(app, 0, '127.0.0.1')).address().port;
      }
      reviewsEndpoints.push({
        address: '127.0.0.1',
        port,
        labels: { app: 'reviews', version },
        serviceAccount: 'bookinfo-reviews',
      });
    }
    const endpoints = { 'reviews.default.svc.cluster.local': reviewsEndpoints };

    const productpage = await newMesh(
      'productpage-v1',
      'bookinfo-productpage',
      { app: 'productpage', version: 'v1' },
      endpoints,
    );
    const jason = await productpage.fetch('http://reviews:9080/reviews/0', {
      headers: { 'end-user': 'jason' },
    });
    const body = await jason.json();
    log(
      `   productpage -> reviews as jason: ${jason.status} from ${body.version}, caller seen by reviews: ${body.caller}`,
    );

    const counts = { v1: 0, v2: 0, v3: 0 };
    for (let i = 0; i < 200; i++) {
      const res = await productpage.fetch('http://reviews:9080/reviews/0');
      counts[(await res.json()).version]++;
    }
    log(
      `   200 anonymous calls: v1 ${counts.v1}, v3 ${counts.v3}, v2 ${counts.v2} (VirtualService says 90/10)`,
    );

    // The edges Kiali draws from productpage's own istio_requests_total: the destination
    // workloads come from Istio's metadata exchange, answered by each reviews version.
    const edges = new Map();
    for (const { labels, value } of (await productpage.metrics.getSingleMetric('istio_requests_total').get())
      .values) {
      if (labels.reporter !== 'source') continue;
      edges.set(labels.destination_workload, (edges.get(labels.destination_workload) ?? 0) + value);
    }
    log(
      `   istio_requests_total{reporter="source"} by destination_workload: ${[...edges]
        .sort()
        .map(([w, v]) => `${w} ${v}`)
        .join(', ')}`,
    );

    const sleep = await newMesh('sleep', 'sleep', { app: 'sleep' }, endpoints);
    const denied = await sleep.fetch('http://reviews:9080/reviews/0');
    log(`   sleep -> reviews: ${denied.status} ${await denied.text()} (only productpage may read reviews)`);

    const plain = await fetch(`http://127.0.0.1:${reviewsEndpoints[0].port}/reviews/0`).then(
      (r) => `HTTP ${r.status}`,
      (err) => `connection closed with no HTTP response (${err.cause?.code ?? err.message})`,
    );
    log(`   plaintext curl from outside the mesh: ${plain} (PeerAuthentication STRICT)`);

    // productpage serves /productpage (it calls reviews as it serves), and an ingress
    // gateway runs Bookinfo's Gateway and VirtualService (mesh/gateway.yaml) in front of it.
    const page = express();
    page.use(meshletExpress({ mesh: productpage }));
    page.get('/productpage', async (req, res) => {
      const user = req.headers['end-user'];
      const r = await productpage.fetch('http://reviews:9080/reviews/0', {
        headers: typeof user === 'string' ? { 'end-user': user } : {},
      });
      res.json({ reviews: (await r.json()).version, caller: req.meshlet.peer?.principal ?? null });
    });
    const pagePort = (await productpage.listen(page, 0, '127.0.0.1')).address().port;
    const ingress = await newMesh(
      'istio-ingressgateway',
      'istio-ingressgateway-service-account',
      { istio: 'ingressgateway', app: 'istio-ingressgateway' },
      {
        'productpage.default.svc.cluster.local': [
          {
            address: '127.0.0.1',
            port: pagePort,
            labels: { app: 'productpage', version: 'v1' },
            serviceAccount: 'bookinfo-productpage',
          },
        ],
      },
      'istio-system',
    );
    const edge = http.createServer(ingress.gateway());
    await new Promise((resolve) => edge.listen(0, '127.0.0.1', resolve));
    meshes.push({ close: () => new Promise((resolve) => edge.close(resolve)) });
    const curl = (urlPath, headers = {}) =>
      new Promise((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port: edge.address().port,
            path: urlPath,
            headers: { host: 'bookinfo.example.com', ...headers },
          },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode, text }));
          },
        );
        req.on('error', reject);
      });
    const viaGateway = await curl('/productpage', { 'end-user': 'jason' });
    const shown = JSON.parse(viaGateway.text);
    log(
      `   curl -H "Host: bookinfo.example.com" <ingress gateway>/productpage as jason: ${viaGateway.status}, reviews ${shown.reviews}; productpage's caller: ${shown.caller}`,
    );
    log(`   the same host, path /: ${(await curl('/')).status} (no route in the gateway's VirtualService)`);

    // TCP: mongodb serves its port with mesh.listenTcp (a one-line stand-in for the database),
    // ratings v2 and reviews reach it with mesh.connect; mesh/security.yaml admits ratings v2 only.
    const mongodb = await newMesh('mongodb-v1', 'bookinfo-mongodb', { app: 'mongodb', version: 'v1' });
    const refusals = [];
    const db = await mongodb.listenTcp(mongodbStandIn, 0, '127.0.0.1');
    db.on('meshConnectionDenied', (d) => refusals.push(d.decision.terminationDetails));
    const dbEndpoints = {
      'mongodb.default.svc.cluster.local': [
        {
          address: '127.0.0.1',
          port: db.address().port,
          labels: { app: 'mongodb', version: 'v1' },
          serviceAccount: 'bookinfo-mongodb',
        },
      ],
    };
    const ratingsV2 = await newMesh(
      'ratings-v2',
      'bookinfo-ratings-v2',
      { app: 'ratings', version: 'v2' },
      dbEndpoints,
    );
    log(`   ratings v2 -> mongodb:27017 (mesh.connect, mTLS): ${await findRatings(ratingsV2)}`);
    const reviewsDb = await newMesh(
      'reviews-v1',
      'bookinfo-reviews',
      { app: 'reviews', version: 'v1' },
      dbEndpoints,
    );
    const answer = await findRatings(reviewsDb);
    log(
      `   reviews -> mongodb:27017: ${answer === '' ? 'connection closed before any reply' : answer} (${refusals[0] ?? 'admitted'}; only ratings v2 may connect)`,
    );
  } finally {
    for (const m of meshes.reverse()) await m.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
