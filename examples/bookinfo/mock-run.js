// Step 6 of the demo: the same YAML in a mock mesh, as a unit test would run it.
import { performance } from 'node:perf_hooks';
import { createMockMesh } from '@meshlet/core/testing';
import { findRatings, mongodbStandIn } from './mongodb.js';

/**
 * Bookinfo in memory on virtual time: reviews v1/v2/v3 and ratings as mock handlers,
 * productpage and sleep as callers, a client without a sidecar, and mongodb's TCP port.
 */
export async function runMock({ meshDir, log }) {
  const mm = await createMockMesh({ config: [meshDir], seed: 1 });
  try {
    mm.service(
      'ratings',
      { serviceAccount: 'bookinfo-ratings', labels: { version: 'v1' }, port: 9080 },
      () => ({
        status: 200,
        body: { ratings: { Reviewer1: 5, Reviewer2: 4 } },
      }),
    );
    for (const version of ['v1', 'v2', 'v3']) {
      mm.service(
        'reviews',
        { serviceAccount: 'bookinfo-reviews', labels: { version }, port: 9080 },
        async (req, ctx) => {
          if (version === 'v1') return { status: 200, body: { version } };
          // v2 and v3 show stars: they call ratings as reviews, passing the user on.
          const user = req.headers['end-user'];
          const r = await ctx.fetch('http://ratings:9080/ratings/0', {
            headers: typeof user === 'string' ? { 'end-user': user } : {},
          });
          return { status: 200, body: { version, ratings: await r.json() } };
        },
      );
    }
    // productpage serves /productpage by calling reviews; the tests below also call as it.
    const productpage = mm.service(
      'productpage',
      { serviceAccount: 'bookinfo-productpage', labels: { version: 'v1' }, port: 9080 },
      async (req, ctx) => {
        const user = req.headers['end-user'];
        const r = await ctx.fetch('http://reviews:9080/reviews/0', {
          headers: typeof user === 'string' ? { 'end-user': user } : {},
        });
        return {
          status: 200,
          body: { reviews: (await r.json()).version, xff: req.headers['x-forwarded-for'] },
        };
      },
    );

    const wall = performance.now();
    const jason = await productpage.fetch('http://reviews:9080/reviews/0', {
      headers: { 'end-user': 'jason' },
    });
    const body = await jason.json();
    log(
      `   jason -> reviews ${body.version} -> ratings (2 s fault delay): ${jason.status} after ` +
        `${mm.clock.now()} virtual ms, ${Math.round(performance.now() - wall)} ms of wall time`,
    );

    const counts = { v1: 0, v2: 0, v3: 0 };
    for (let i = 0; i < 1000; i++) {
      const r = await productpage.fetch('http://reviews:9080/reviews/0');
      counts[(await r.json()).version]++;
    }
    log(
      `   1000 anonymous calls: v1 ${counts.v1}, v3 ${counts.v3}, v2 ${counts.v2} (seed 1: the same every run)`,
    );

    const sleep = mm.workload({ serviceAccount: 'sleep' });
    const denied = await sleep.fetch('http://reviews:9080/reviews/0');
    log(`   sleep -> reviews: ${denied.status} ${await denied.text()}`);
    const outside = mm.workload({ namespace: 'legacy', serviceAccount: 'curl', mesh: false });
    const refused = await outside.fetch('http://reviews.default:9080/reviews/0').catch((e) => e.code);
    log(`   a client without a sidecar, STRICT mTLS: ${refused}`);

    // The internet, through Bookinfo's Gateway (mesh/gateway.yaml), as the tasks' curl.
    const gateway = mm.gateway();
    const start = mm.clock.now();
    const page = await gateway.fetch('http://bookinfo.example.com/productpage', {
      headers: { 'end-user': 'jason' },
    });
    const shown = await page.json();
    log(
      `   curl -H "Host: bookinfo.example.com" $GATEWAY_URL/productpage as jason: ${page.status}, ` +
        `reviews ${shown.reviews}, after ${mm.clock.now() - start} virtual ms; x-forwarded-for at productpage: ${shown.xff}`,
    );

    // TCP: mongodb as a mock TCP pod under mesh/security.yaml's mongodb-readers.
    mm.tcpService(
      'mongodb',
      { serviceAccount: 'bookinfo-mongodb', labels: { version: 'v1' }, port: 27017 },
      mongodbStandIn,
    );
    const ratingsV2 = mm.workload({
      name: 'ratings-v2',
      serviceAccount: 'bookinfo-ratings-v2',
      labels: { app: 'ratings', version: 'v2' },
    });
    const reviewsV1 = mm.workload({
      name: 'reviews-v1',
      serviceAccount: 'bookinfo-reviews',
      labels: { app: 'reviews', version: 'v1' },
    });
    const fromRatings = await findRatings(ratingsV2);
    const fromReviews = await findRatings(reviewsV1);
    log(
      `   ratings v2 -> mongodb:27017 (mm.tcpService, workload.connect): ${fromRatings}; reviews: ` +
        `${fromReviews === '' ? 'connection closed before any reply' : fromReviews}`,
    );
    const opened = (source) =>
      mm.metric('istio_tcp_connections_opened_total', {
        reporter: 'destination',
        destination_workload: 'mongodb-v1',
        source_workload: source,
      });
    log(
      `   istio_tcp_connections_opened_total at mongodb: ${await opened('ratings-v2')} from ratings-v2 ` +
        `(TCP metadata exchange), ${await opened('reviews-v1')} from reviews-v1 (refused)`,
    );

    const first = mm.log
      .slice(0, 2)
      .map((h) => `${h.source} -> ${h.destination?.workload} ${h.status} (${h.duration} ms)`);
    log(`   hop log, ${mm.log.length} calls, first: ${first.join('; ')}`);
  } finally {
    await mm.close();
  }
}
