import { describe, expect, it } from 'vitest';
import { bookinfo, harness, planOf } from './support/setup.js';
import { reviewsVs, threeV1 } from './support/yaml.js';

// The sidecar's outbound connection manager sanitises the application's `referer` as every
// connection manager does, before routing (envoy conn_manager_utility.cc mutateRequestHeaders):
// an invalid one is not forwarded, and a route's match does not see it; repeated ones are one
// value joined with `,` (Istio's proxy keeps referer as an inline header, header_map_impl.cc). A route's own
// header operation runs later (the router), so a referer it sets is sent as written.
describe('referer on outbound calls', () => {
  it('forwards a valid one unchanged', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    await h.call('http://reviews:9080/', { headers: { Referer: 'http://productpage:9080/productpage?u=1' } });
    expect(h.transport.seen[0]?.headers['referer']).toBe('http://productpage:9080/productpage?u=1');
  });

  it('drops one with a fragment before the route matches on it', async () => {
    const h = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs(`    match: [{ headers: { referer: { prefix: "http://productpage" } } }]
    headers: { request: { add: { x-matched: "yes" } } }
  - route: [{ destination: { host: reviews, subset: v1 } }]
`),
        ],
        threeV1,
      ),
      () => ({ status: 200 }),
    );
    await h.call('http://reviews:9080/', { headers: { referer: 'http://productpage:9080/#reviews' } });
    const sent = h.transport.seen[0]?.headers ?? {};
    expect([sent['referer'], sent['x-matched']]).toEqual([undefined, undefined]);
    await h.call('http://reviews:9080/', { headers: { referer: 'http://productpage:9080/' } });
    expect(h.transport.seen[1]?.headers['x-matched']).toBe('yes');
  });

  it('sends a repeated one as one value joined with `,`, or drops it when that is invalid', async () => {
    const h = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    await h.call('http://reviews:9080/', { headers: { referer: ['/a', '/b'] } });
    await h.call('http://reviews:9080/', { headers: { referer: ['a:b', '/c'] } });
    expect(h.transport.seen.map((r) => r.headers['referer'])).toEqual(['/a,/b', undefined]);
  });

  it('sends the one a route header operation sets', async () => {
    const h = harness(
      planOf(
        [...bookinfo(), reviewsVs('    headers: { request: { set: { referer: "about:blank" } } }\n')],
        threeV1,
      ),
      () => ({ status: 200 }),
    );
    await h.call('http://reviews:9080/', { headers: { referer: 'a:b' } });
    expect(h.transport.seen[0]?.headers['referer']).toBe('about:blank');
  });

  it('drops an invalid one on a call through the passthrough cluster too', async () => {
    const h = harness(planOf([...bookinfo()], threeV1), () => ({ status: 200 }));
    await h.call('http://api.example.com/', { headers: { referer: 'https://u:p@example.com/' } });
    expect(h.transport.seen[0]?.headers['referer']).toBeUndefined();
  });
});
