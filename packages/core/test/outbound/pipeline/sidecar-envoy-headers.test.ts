import { describe, expect, it } from 'vitest';
import { bookinfo, harness, planOf, sample, scriptedRandom } from './support/setup.js';
import type { FakeHandler } from './support/fake-transport.js';
import { reviewsVs, threeV1 } from './support/yaml.js';
import type { Harness } from './support/setup.js';

/** Every header Envoy's conn_manager_utility.cc cleanInternalHeaders removes from an external request. */
const CONTROL_HEADERS: Record<string, string> = {
  'x-envoy-retriable-status-codes': '418',
  'x-envoy-retriable-header-names': 'x-bad',
  'x-envoy-retry-on': '5xx',
  'x-envoy-retry-grpc-on': 'unavailable',
  'x-envoy-max-retries': '5',
  'x-envoy-upstream-alt-stat-name': 'alt',
  'x-envoy-upstream-rq-timeout-ms': '50',
  'x-envoy-upstream-rq-per-try-timeout-ms': '20',
  'x-envoy-upstream-rq-timeout-alt-response': '204',
  'x-envoy-expected-rq-timeout-ms': '7',
  'x-envoy-force-trace': 'true',
  'x-envoy-ip-tags': 'tag',
  'x-envoy-original-url': 'http://x/',
  'x-envoy-hedge-on-per-try-timeout': 'true',
};

const slow =
  (h: () => Harness, ms: number, status = 200): FakeHandler =>
  async (req, signal) => {
    await h().clock.sleep(ms, signal ?? undefined);
    return { status, body: req.address };
  };

// Istio's sidecar outbound HCM has use_remote_address=false and (Envoy >= 1.33) no
// internal_address_config (pilot listener_builder.go), so the application's request is
// external: cleanInternalHeaders strips these before the router reads them.
describe('application-sent Envoy control headers (sidecar: external request)', () => {
  it('ignores and strips x-envoy-upstream-rq-timeout-ms / -per-try-timeout-ms', async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    timeout: 500ms\n')], threeV1),
      slow(() => h, 300),
    );
    const res = await h.call('http://reviews:9080/', {
      headers: { 'x-envoy-upstream-rq-timeout-ms': '50', 'x-envoy-upstream-rq-per-try-timeout-ms': '20' },
    });
    expect([res.status, res.meshlet.flags, h.clock.now()]).toEqual([200, [], 300]);
    const sent = h.transport.seen[0]?.headers ?? {};
    expect(sent['x-envoy-upstream-rq-timeout-ms']).toBeUndefined();
    expect(sent['x-envoy-upstream-rq-per-try-timeout-ms']).toBeUndefined();
    expect(sent['x-envoy-expected-rq-timeout-ms']).toBe('500');
  });

  it('neither retries on nor forwards x-envoy-retry-on / x-envoy-max-retries and the rest', async () => {
    const h: Harness = harness(
      planOf([...bookinfo(), reviewsVs('    retries: { attempts: 0 }\n')], threeV1),
      () => ({ status: 503 }),
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/', { headers: { ...CONTROL_HEADERS } });
    expect([res.status, res.meshlet.attempts]).toEqual([503, 1]);
    const sent = h.transport.seen[0]?.headers ?? {};
    for (const name of Object.keys(CONTROL_HEADERS)) expect([name, sent[name]]).toEqual([name, undefined]);
  });

  it("does not forward the application's x-envoy-internal; a route's header operation may set it", async () => {
    // The connection manager removes it from every request ("Clean proxy headers" in
    // conn_manager_utility.cc mutateRequestHeaders) before the router's header operations.
    const plain: Harness = harness(planOf([...bookinfo(), reviewsVs('')], threeV1), () => ({ status: 200 }));
    await plain.call('http://reviews:9080/', { headers: { 'x-envoy-internal': 'true', 'x-envoy-x': '1' } });
    expect(plain.transport.seen[0]?.headers['x-envoy-internal']).toBeUndefined();
    expect(plain.transport.seen[0]?.headers['x-envoy-x']).toBe('1');
    const set: Harness = harness(
      planOf(
        [...bookinfo(), reviewsVs('    headers: { request: { set: { x-envoy-internal: "yes" } } }\n')],
        threeV1,
      ),
      () => ({ status: 200 }),
    );
    await set.call('http://reviews:9080/', { headers: { 'x-envoy-internal': 'true' } });
    expect(set.transport.seen[0]?.headers['x-envoy-internal']).toBe('yes');
  });
});

describe('x-envoy-expected-rq-timeout-ms on retries (router.cc doRetry → setTimeoutHeaders)', () => {
  it('sends each try min(per-try timeout, route timeout - elapsed)', async () => {
    let n = 0;
    const h: Harness = harness(
      planOf(
        [...bookinfo(), reviewsVs('    timeout: 1s\n    retries: { attempts: 2, retryOn: 5xx }\n')],
        threeV1,
      ),
      async (_req, signal) => {
        if (n++ === 0) await h.clock.sleep(300, signal ?? undefined);
        return { status: n === 1 ? 503 : 200 };
      },
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts]).toEqual([200, 2]);
    expect(h.transport.seen.map((s) => s.headers['x-envoy-expected-rq-timeout-ms'])).toEqual(['1000', '700']);
  });

  it('caps the per-try timeout by what is left of the route timeout', async () => {
    let n = 0;
    const h: Harness = harness(
      planOf(
        [
          ...bookinfo(),
          reviewsVs('    timeout: 1s\n    retries: { attempts: 2, retryOn: 5xx, perTryTimeout: 600ms }\n'),
        ],
        threeV1,
      ),
      async (_req, signal) => {
        n++;
        if (n === 1) await h.clock.sleep(500, signal ?? undefined);
        return { status: n === 1 ? 503 : 200 };
      },
      { random: scriptedRandom([0]) },
    );
    const res = await h.call('http://reviews:9080/');
    expect([res.status, res.meshlet.attempts]).toEqual([200, 2]);
    expect(h.transport.seen.map((s) => s.headers['x-envoy-expected-rq-timeout-ms'])).toEqual(['600', '500']);
  });
});

describe('a route destination port the service does not declare', () => {
  it('answers 503 NC with an empty body: Istio builds no cluster for it (route.go GetDestinationCluster)', async () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, port: { number: 9999 } } }]
`;
    const h: Harness = harness(planOf([...bookinfo(), vs], threeV1), () => ({ status: 200 }));
    const res = await h.call('http://reviews:9080/');
    expect([res.status, await res.text(), res.meshlet.flags]).toEqual([503, '', ['NC']]);
    expect(h.plan.outbound.cluster('outbound|9999||reviews.default.svc.cluster.local')?.status).toBe(
      'no-port',
    );
    expect(h.transport.seen).toHaveLength(0);
  });
});

const hashDr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

function hashed(rule: string): Harness {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
${rule}`;
  return harness(
    planOf([sample('bookinfo-platform/bookinfo.yaml'), hashDr, vs], threeV1),
    () => ({ status: 503 }),
    {
      random: scriptedRandom([0]),
    },
  );
}

// istio route.go applyHTTPRouteDestination: consistentHash = len(route) == 1 && LookupHash != nil;
// retry.go ConvertPolicy: no previous_hosts predicate then, unless retryIgnorePreviousHosts is set.
describe('previous-hosts predicate with consistent hashing (istio retry.go ConvertPolicy)', () => {
  const single = '  - route: [{ destination: { host: reviews, subset: v1 } }]\n';
  it('has none for a single hashed destination, with or without a hash key', async () => {
    for (const headers of [{ 'x-user': 'u1' }, {}]) {
      const h = hashed(`${single}    retries: { attempts: 2, retryOn: 5xx }\n`);
      await h.call('http://reviews:9080/', { headers });
      expect(h.clusters.picks.map((p) => p.exclude.length)).toEqual([0, 0, 0]);
    }
  });

  it('has one when retryIgnorePreviousHosts is set true explicitly', async () => {
    const h = hashed(`${single}    retries: { attempts: 2, retryOn: 5xx, retryIgnorePreviousHosts: true }\n`);
    await h.call('http://reviews:9080/', { headers: { 'x-user': 'u1' } });
    expect(h.clusters.picks.map((p) => p.exclude.length)).toEqual([0, 1, 2]);
  });

  it('has one for a route with several destinations (weighted clusters), weight 0 ones included', async () => {
    const h = hashed(
      '  - route: [{ destination: { host: reviews, subset: v1 }, weight: 100 }, { destination: { host: reviews, subset: v2 }, weight: 0 }]\n    retries: { attempts: 2, retryOn: 5xx }\n',
    );
    await h.call('http://reviews:9080/', { headers: { 'x-user': 'u1' } });
    expect(h.clusters.picks.map((p) => p.exclude.length)).toEqual([0, 1, 2]);
  });
});
