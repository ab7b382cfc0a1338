import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockMesh, type MockMesh } from '../../src/testing/index.js';
import { SAMPLES } from '../helpers/tmp.js';

const NET = path.join(SAMPLES, 'bookinfo-networking');
const TIMEOUTS = path.join(SAMPLES, 'tasks/request-timeouts');

const open: MockMesh[] = [];
afterEach(async () => {
  for (const mm of open.splice(0)) await mm.close();
});

async function mock(config: string | readonly string[], seed = 1): Promise<MockMesh> {
  const mm = await createMockMesh({ config, seed });
  open.push(mm);
  return mm;
}

/** Bookinfo's reviews v1, v2, v3 as Istio's sample labels them; each answers its version. */
function reviews(mm: MockMesh): void {
  for (const version of ['v1', 'v2', 'v3']) {
    mm.service('reviews', { serviceAccount: 'bookinfo-reviews', labels: { version }, port: 9080 }, () => ({
      status: 200,
      body: version,
    }));
  }
}

function productpage(mm: MockMesh) {
  return mm.workload({
    name: 'productpage-v1',
    serviceAccount: 'bookinfo-productpage',
    labels: { app: 'productpage', version: 'v1' },
  });
}

describe('mock mesh: traffic management with Bookinfo YAML', () => {
  it('splits traffic by the VirtualService weights (traffic-shifting task, 90/10), the same way for the same seed', async () => {
    const counts = async (seed: number) => {
      const mm = await mock(
        [path.join(NET, 'virtual-service-reviews-90-10.yaml'), path.join(NET, 'destination-rule-all.yaml')],
        seed,
      );
      reviews(mm);
      const pp = productpage(mm);
      const seen: Record<string, number> = {};
      for (let i = 0; i < 400; i++) {
        const body = await (await pp.fetch('http://reviews:9080/reviews/0')).text();
        seen[body] = (seen[body] ?? 0) + 1;
      }
      return { seen, log: mm.log, mm };
    };
    const a = await counts(7);
    expect(Object.keys(a.seen).sort()).toEqual(['v1', 'v2']);
    expect(a.seen['v1']).toBeGreaterThan(330);
    expect(a.seen['v2']).toBeGreaterThan(20);
    // The hop log names where each call went, by subset and by workload.
    expect(a.log).toHaveLength(400);
    const toV2 = a.log.filter((h) => h.destination?.subset === 'v2');
    expect(toV2).toHaveLength(a.seen['v2'] as number);
    expect(toV2[0]?.destination?.workload).toBe('default/reviews-v2');
    expect(toV2[0]?.source).toBe('default/productpage-v1');
    // Istio's metrics say the same, from both ends (what a dashboard's query would sum).
    const v2 = a.seen['v2'] as number;
    expect(await a.mm.metric('istio_requests_total', { reporter: 'source', destination_version: 'v2' })).toBe(
      v2,
    );
    expect(
      await a.mm.metric('istio_requests_total', {
        reporter: 'destination',
        destination_workload: 'reviews-v2',
        source_workload: 'productpage-v1',
        response_code: '200',
      }),
    ).toBe(v2);
    expect(await a.mm.metric('istio_request_duration_milliseconds_count', { reporter: 'source' })).toBe(400);
    // Seeded: a second mesh with the same seed routes every call the same way.
    const b = await counts(7);
    expect(b.seen).toEqual(a.seen);
    expect(b.log.map((h) => h.destination?.subset)).toEqual(a.log.map((h) => h.destination?.subset));
  });

  it('runs a fault delay on virtual time: jason waits 7 s on the mesh clock, not on the wall clock', async () => {
    const mm = await mock([
      path.join(NET, 'virtual-service-ratings-test-delay.yaml'),
      path.join(NET, 'destination-rule-all.yaml'),
    ]);
    mm.service(
      'ratings',
      { serviceAccount: 'bookinfo-ratings', labels: { version: 'v1' }, port: 9080 },
      () => ({
        status: 200,
        body: { ratings: { Reviewer1: 5 } },
      }),
    );
    const reviewsV2 = mm.workload({
      name: 'reviews-v2',
      serviceAccount: 'bookinfo-reviews',
      labels: { app: 'reviews', version: 'v2' },
    });
    const wall = performance.now();
    const jason = await reviewsV2.fetch('http://ratings:9080/ratings/0', {
      headers: { 'end-user': 'jason' },
    });
    expect(jason.status).toBe(200);
    expect(jason.meshlet.flags).toEqual(['DI']);
    expect(mm.clock.now()).toBe(7000);
    expect(performance.now() - wall).toBeLessThan(2000);
    const other = await reviewsV2.fetch('http://ratings:9080/ratings/0');
    expect(other.meshlet.flags).toEqual([]);
    expect(mm.log.map((h) => h.duration)).toEqual([7000, 0]);
  });

  it('reproduces the request-timeouts task: a 2 s ratings delay behind a 0.5 s reviews timeout is a 504 UT after 500 ms', async () => {
    const mm = await mock([
      path.join(NET, 'destination-rule-all.yaml'),
      path.join(TIMEOUTS, '01-reviews-route-v2.yaml'),
      path.join(TIMEOUTS, '02-ratings-delay-2s.yaml'),
    ]);
    mm.service(
      'ratings',
      { serviceAccount: 'bookinfo-ratings', labels: { version: 'v1' }, port: 9080 },
      () => ({
        status: 200,
        body: 'stars',
      }),
    );
    // reviews-v2 calls ratings as itself (ctx.fetch): its sidecar applies the ratings delay.
    mm.service(
      'reviews',
      { serviceAccount: 'bookinfo-reviews', labels: { version: 'v2' }, port: 9080 },
      async (_req, ctx) => {
        const r = await ctx.fetch('http://ratings:9080/ratings/0');
        return { status: 200, body: `reviews with ${await r.text()}` };
      },
    );
    const pp = productpage(mm);
    const slow = await pp.fetch('http://reviews:9080/reviews/0');
    expect(slow.status).toBe(200);
    expect(await slow.text()).toBe('reviews with stars');
    expect(mm.clock.now()).toBe(2000);

    await mm.apply(await readSample(path.join(TIMEOUTS, '03-reviews-v2-timeout-0.5s.yaml')));
    const before = mm.clock.now();
    const cut = await pp.fetch('http://reviews:9080/reviews/0');
    expect(cut.status).toBe(504);
    expect(await cut.text()).toBe('upstream request timeout');
    expect(cut.meshlet.flags).toEqual(['UT']);
    const hop = mm.log.at(-1);
    expect(hop?.source).toBe('default/productpage-v1');
    expect(hop?.duration).toBe(500);
    expect(hop?.start).toBe(before);
  });

  it('retries a failing pod as the VirtualService says, with the backoff on virtual time', async () => {
    const mm = await mock(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: ratings } }]
    retries: { attempts: 3, retryOn: 5xx, perTryTimeout: 1s }
`);
    let calls = 0;
    mm.service('ratings', { port: 9080 }, () => ({ status: ++calls < 3 ? 503 : 200, body: `call ${calls}` }));
    const res = await productpage(mm).fetch('http://ratings:9080/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('call 3');
    expect(res.meshlet.attempts).toBe(3);
    expect(calls).toBe(3);
    // Two backoffs of Envoy's 25 ms base with full jitter: each under 25 ms, then under 50 ms.
    expect(mm.clock.now()).toBeGreaterThanOrEqual(0);
    expect(mm.clock.now()).toBeLessThan(75);
  });

  it('ejects a failing pod by outlier detection and brings it back after the ejection time, in virtual minutes', async () => {
    const mm = await mock(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: httpbin }
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100 }
`);
    let broken = true;
    mm.service('httpbin', { labels: { version: 'v1' }, port: 8000 }, () => ({
      status: broken ? 500 : 200,
      body: 'v1',
    }));
    mm.service('httpbin', { labels: { version: 'v2' }, port: 8000 }, () => ({ status: 200, body: 'v2' }));
    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push(await (await sleep.fetch('http://httpbin:8000/')).text());
    // v1 answers one 500, is ejected, and every later call goes to v2.
    expect(bodies.filter((b) => b === 'v1')).toHaveLength(1);
    expect(bodies.slice(-4)).toEqual(['v2', 'v2', 'v2', 'v2']);
    broken = false;
    // Three virtual minutes later (plus a sweep interval), v1 is back in rotation.
    await mm.clock.advance(181_000);
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push(await (await sleep.fetch('http://httpbin:8000/')).text());
    expect(after).toContain('v1');
  });

  it('trips the circuit breaker of the circuit-breaking task under concurrent calls, while the pod works in virtual time', async () => {
    const mm = await mock(
      path.join(SAMPLES, 'tasks/circuit-breaking/destination-rule-httpbin-circuit-breaker.yaml'),
    );
    mm.service('httpbin', { serviceAccount: 'httpbin', port: 8000 }, async () => {
      await mm.clock.sleep(100);
      return { status: 200, body: 'ok' };
    });
    const fortio = mm.workload({ serviceAccount: 'fortio' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        fortio.fetch('http://httpbin:8000/get').then(async (r) => ({
          status: r.status,
          flags: r.meshlet.flags.join(','),
          overloaded: r.headers.get('x-envoy-overloaded'),
          body: await r.text(),
        })),
      ),
    );
    // maxConnections 1 and http1MaxPendingRequests 1: one in service, one waiting, the rest overflow.
    const ok = results.filter((r) => r.status === 200);
    const overflow = results.filter((r) => r.status === 503);
    expect(ok).toHaveLength(2);
    expect(overflow).toHaveLength(8);
    expect(overflow[0]).toEqual({
      status: 503,
      flags: 'UO',
      overloaded: 'true',
      body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    });
    // The waiting call ran after the first: two 100 ms requests back to back.
    expect(mm.clock.now()).toBe(200);
  });

  it('carries x-request-id and the trace from an inbound request to the calls its handler makes', async () => {
    const mm = await mock([]);
    mm.service('ratings', { port: 9080 }, (req) => ({
      status: 200,
      body: { requestId: req.headers['x-request-id'], traceparent: req.headers['traceparent'] ?? null },
    }));
    mm.service('reviews', { port: 9080 }, async (req, ctx) => {
      const onward = (await (await ctx.fetch('http://ratings:9080/')).json()) as Record<string, string>;
      return { status: 200, body: { mine: req.headers['x-request-id'], onward } };
    });
    const res = (await (
      await productpage(mm).fetch('http://reviews:9080/', { headers: { 'x-request-id': 'req-42' } })
    ).json()) as {
      mine: string;
      onward: { requestId: string };
    };
    expect(res.mine).toBe('req-42');
    expect(res.onward.requestId).toBe('req-42');
  });

  it('records one trace across three workloads when the test collects spans (100 % sampling from meshConfig)', async () => {
    const exporter = new InMemorySpanExporter();
    const mm = await createMockMesh({
      config: [],
      meshConfig: { tracingSampling: 100 },
      telemetry: { spanProcessors: [new SimpleSpanProcessor(exporter)] },
    });
    open.push(mm);
    mm.service('ratings', { port: 9080 }, () => ({ status: 200, body: '5' }));
    mm.service('reviews', { port: 9080 }, async (_req, ctx) => ({
      status: 200,
      body: await (await ctx.fetch('http://ratings:9080/')).text(),
    }));
    expect(await (await productpage(mm).fetch('http://reviews:9080/')).text()).toBe('5');
    const spans = exporter.getFinishedSpans();
    // CLIENT and SERVER spans of productpage -> reviews and reviews -> ratings.
    expect(
      spans.map((s) => `${SpanKind[s.kind]} ${s.attributes['istio.canonical_service'] as string}`).sort(),
    ).toEqual(['CLIENT productpage', 'CLIENT reviews', 'SERVER ratings', 'SERVER reviews']);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const ratingsServer = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.attributes['istio.canonical_service'] === 'ratings',
    );
    const parent = byId.get(ratingsServer?.parentSpanContext?.spanId ?? '');
    expect(parent?.kind).toBe(SpanKind.CLIENT);
    expect(parent?.attributes['istio.canonical_service']).toBe('reviews');
  });

  it('switches a route while running (mm.apply) and rejects YAML with errors without changing anything', async () => {
    const mm = await mock([
      path.join(NET, 'virtual-service-all-v1.yaml'),
      path.join(NET, 'destination-rule-all.yaml'),
    ]);
    reviews(mm);
    const pp = productpage(mm);
    expect(await (await pp.fetch('http://reviews:9080/')).text()).toBe('v1');
    await mm.apply(await readSample(path.join(NET, 'virtual-service-reviews-v3.yaml')));
    expect(await (await pp.fetch('http://reviews:9080/')).text()).toBe('v3');
    const bad = await mm
      .apply(
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews, subset: v1 } }]\n    timeout: 3\n',
      )
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'MESHLET_ERR_CONFIG_INVALID' });
    expect(String((bad as Error).message)).toContain('timeout');
    expect(await (await pp.fetch('http://reviews:9080/')).text()).toBe('v3');
  });

  it('answers 503 UH with no healthy upstream when a subset has no pod, and 503 NC for an undefined subset', async () => {
    const mm = await mock([
      path.join(NET, 'virtual-service-reviews-v3.yaml'),
      path.join(NET, 'destination-rule-all.yaml'),
    ]);
    const v1 = mm.service('reviews', { labels: { version: 'v1' }, port: 9080 }, () => ({ status: 200 }));
    const pp = productpage(mm);
    const none = await pp.fetch('http://reviews:9080/');
    expect([none.status, await none.text(), none.meshlet.flags]).toEqual([
      503,
      'no healthy upstream',
      ['UH'],
    ]);
    // A pod that leaves: its endpoint leaves every plan.
    mm.service('reviews', { labels: { version: 'v3' }, port: 9080 }, () => ({ status: 200, body: 'v3' }));
    expect(await (await pp.fetch('http://reviews:9080/')).text()).toBe('v3');
    v1.stop();
    await mm.apply(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v9 } }] }]
`);
    const nc = await pp.fetch('http://reviews:9080/');
    expect([nc.status, nc.meshlet.flags]).toEqual([503, ['NC']]);
  });

  it('refuses a config with errors at creation, naming the file and field', async () => {
    const err = await createMockMesh({
      config:
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http:\n  - retries: { attempts: -1 }\n',
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MESHLET_ERR_CONFIG_INVALID' });
    expect(String((err as Error).message)).toMatch(/<config 0>:7:.*attempts/);
  });
});

async function readSample(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file, 'utf8');
}
