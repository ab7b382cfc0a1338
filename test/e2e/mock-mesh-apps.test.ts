import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
// The published entry point, as a user imports it (package.json "exports" → dist/testing).
import { createMockMesh, type MockMesh } from '@meshlet/core/testing';
import { meshlet as meshletExpress } from '@meshlet/express';
import { meshlet as meshletFastify } from '@meshlet/fastify';

const POLICY = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/default/sa/bookinfo-productpage] } }]
    to: [{ operation: { methods: [GET], paths: [/reviews/*] } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: ratings } }]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    match: [{ headers: { end-user: { exact: jason } } }]
  - route: [{ destination: { host: ratings } }]
`;

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

describe('mock mesh with real Fastify and Express apps as services', () => {
  it('serves each app behind its sidecar: policy before the routes, normalized paths, onward calls as the app', async () => {
    const mm = await createMockMesh({ config: POLICY });
    open.push(mm);

    // ratings: an Express app.
    const ratingsApp = express();
    ratingsApp.get('/ratings/:id', (req, res) => {
      res.json({ id: req.params['id'], stars: 4, xfcc: req.headers['x-forwarded-client-cert'] ?? null });
    });
    mm.service(
      'ratings',
      { serviceAccount: 'bookinfo-ratings', labels: { version: 'v1' }, port: 9080 },
      ratingsApp,
    );

    // reviews: a Fastify app that calls ratings through its own sidecar, forwarding end-user.
    const reviewsApp = Fastify();
    const reviews = mm.service(
      'reviews',
      { serviceAccount: 'bookinfo-reviews', labels: { version: 'v2' }, port: 9080 },
      reviewsApp,
    );
    let handled = 0;
    reviewsApp.get('/reviews/:id', async (request) => {
      handled++;
      const user = request.headers['end-user'];
      const r = await reviews.fetch(`http://ratings:9080/ratings/${(request.params as { id: string }).id}`, {
        headers: typeof user === 'string' ? { 'end-user': user } : {},
      });
      return {
        path: request.url,
        ratingsStatus: r.status,
        ratings: r.status === 200 ? await r.json() : null,
      };
    });

    const productpage = mm.workload({ name: 'productpage-v1', serviceAccount: 'bookinfo-productpage' });
    const ok = await productpage.fetch('http://reviews:9080/reviews/./0');
    expect([ok.status, ok.status === 200 ? '' : await ok.text()]).toEqual([200, '']);
    // Fastify routed on the path authorization checked: `/reviews/./0` normalized to `/reviews/0`.
    expect(await ok.json()).toEqual({
      path: '/reviews/0',
      ratingsStatus: 200,
      ratings: {
        id: '0',
        stars: 4,
        // The sidecar's APPEND_FORWARD element for the mTLS caller (Istio's defaults: Subject, URI).
        xfcc: expect.stringMatching(
          /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-ratings;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews$/,
        ),
      },
    });
    // The headers the two sidecars add: the server's upstream time, the client's `server`.
    expect(ok.headers.get('server')).toBe('envoy');
    expect(ok.headers.get('x-envoy-upstream-service-time')).toMatch(/^\d+$/);

    // The fault on ratings is applied by reviews' sidecar to reviews' onward call.
    const jason = await productpage.fetch('http://reviews:9080/reviews/1', {
      headers: { 'end-user': 'jason' },
    });
    expect(await jason.json()).toMatchObject({ ratingsStatus: 503, ratings: null });

    // Another caller is denied before any Fastify route runs.
    const before = handled;
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const denied = await sleep.fetch('http://reviews:9080/reviews/0');
    expect([denied.status, await denied.text()]).toEqual([403, 'RBAC: access denied']);
    expect(handled).toBe(before);

    // Every call is in the hop log, the onward ones under reviews' name.
    expect(mm.log.map((h) => `${h.source} -> ${h.destination?.workload ?? '-'} ${h.status}`)).toEqual([
      'default/reviews-v2 -> default/ratings-v1 200',
      'default/productpage-v1 -> default/reviews-v2 200',
      'default/reviews-v2 -> - 503',
      'default/productpage-v1 -> default/reviews-v2 200',
      'default/sleep -> default/reviews-v2 403',
    ]);
    expect(mm.log[2]?.flags).toEqual(['FI']);
  });

  it("serves apps that run @meshlet/fastify and @meshlet/express themselves, on their pod's mesh, as in production", async () => {
    const mm = await createMockMesh({ config: POLICY });
    open.push(mm);

    // The production shape: the app registers meshlet's adapter with its mesh.
    const reviewsApp = Fastify();
    const reviews = mm.service(
      'reviews',
      { serviceAccount: 'bookinfo-reviews', labels: { version: 'v1' }, port: 9080, adapter: true },
      reviewsApp,
    );
    await reviewsApp.register(meshletFastify, { mesh: await reviews.mesh() });
    reviewsApp.get('/reviews/:id', (request) => ({
      url: request.url,
      peer: request.meshlet.peer?.principal,
    }));

    const ratingsApp = express();
    const ratings = mm.service(
      'ratings',
      { serviceAccount: 'bookinfo-ratings', labels: { version: 'v1' }, port: 9080, adapter: true },
      ratingsApp,
    );
    ratingsApp.use(meshletExpress({ mesh: await ratings.mesh() }));
    ratingsApp.get('/ratings/:id', (req, res) => {
      res.json({ peer: req.meshlet.peer?.principal ?? null });
    });

    const productpage = mm.workload({ name: 'productpage-v1', serviceAccount: 'bookinfo-productpage' });
    // The plugin's pre-routing normalization and decision run: /reviews/./7 is routed as /reviews/7.
    const ok = await productpage.fetch('http://reviews:9080/reviews/./7');
    expect(await ok.json()).toEqual({
      url: '/reviews/7',
      peer: 'cluster.local/ns/default/sa/bookinfo-productpage',
    });
    const denied = await mm.workload({ serviceAccount: 'sleep' }).fetch('http://reviews:9080/reviews/7');
    expect([denied.status, await denied.text()]).toEqual([403, 'RBAC: access denied']);
    const viaExpress = await productpage.fetch('http://ratings:9080/ratings/7');
    expect(await viaExpress.json()).toEqual({ peer: 'cluster.local/ns/default/sa/bookinfo-productpage' });
    // The adapters' own telemetry counted the requests on each pod.
    expect(
      await mm.metric('istio_requests_total', {
        reporter: 'destination',
        destination_workload: 'reviews-v1',
      }),
    ).toBe(2);
  });

  it('refuses, with a message saying what to do, an app whose own adapter and { adapter } disagree', async () => {
    const mm = await createMockMesh({});
    open.push(mm);
    // The adapter registered, the option forgotten: both sidecars would decide and count.
    const withPlugin = Fastify();
    const a = mm.service('a', { port: 80 }, withPlugin);
    await withPlugin.register(meshletFastify, { mesh: await a.mesh() });
    withPlugin.get('/', () => 'a');
    // The option given, no adapter: requests would go undecided.
    const bare = express();
    bare.get('/', (_req, res) => {
      res.send('b');
    });
    mm.service('b', { port: 80, adapter: true }, bare);
    const client = mm.workload({ serviceAccount: 'client' });
    const ra = await client.fetch('http://a/');
    expect([ra.status, await ra.text()]).toEqual([
      500,
      'mock pod default/a: the app registers @meshlet/fastify itself; give mm.service { adapter: true } and register it with { mesh: await service.mesh() }, or remove it and let the mock sidecar decide',
    ]);
    const rb = await client.fetch('http://b/');
    expect(rb.status).toBe(500);
    expect(await rb.text()).toContain(
      'does not register @meshlet/express, so its requests would go undecided',
    );
    // A mock handler has no adapter to run.
    expect(() => mm.service('c', { adapter: true }, () => ({ status: 200 }))).toThrow(
      expect.objectContaining({ code: 'MESHLET_ERR_MESH_OPTIONS' }),
    );
  });
});
