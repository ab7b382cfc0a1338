import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { productpage, request, sample, snapshotOf } from './helpers.js';

const platform = sample('bookinfo-platform/bookinfo.yaml');
const drAll = sample('bookinfo-networking/destination-rule-all.yaml');

function destinationsOf(vsFile: string, req: ReturnType<typeof request>) {
  const plan = compilePlan(snapshotOf(platform, drAll, sample(`bookinfo-networking/${vsFile}`)), productpage);
  const vh = plan.outbound.lookup(req.authority, 9080);
  expect(vh).not.toBeNull();
  const route = plan.outbound.route(vh!, req);
  if (route === null || route.action.kind !== 'route') return null;
  return route.action.destinations.map((d) => [d.subset, d.weight]);
}

describe('compilePlan on Bookinfo', () => {
  it.each([
    ['virtual-service-reviews-jason-v2-v3.yaml', { 'end-user': 'jason' }, [['v2', 100]]],
    ['virtual-service-reviews-jason-v2-v3.yaml', { 'end-user': 'mallory' }, [['v3', 100]]],
    ['virtual-service-reviews-jason-v2-v3.yaml', {}, [['v3', 100]]],
    ['virtual-service-reviews-test-v2.yaml', { 'end-user': 'jason' }, [['v2', 100]]],
    ['virtual-service-reviews-test-v2.yaml', {}, [['v1', 100]]],
    [
      'virtual-service-reviews-90-10.yaml',
      {},
      [
        ['v1', 90],
        ['v2', 10],
      ],
    ],
    [
      'virtual-service-reviews-80-20.yaml',
      {},
      [
        ['v1', 80],
        ['v2', 20],
      ],
    ],
    [
      'virtual-service-reviews-50-v3.yaml',
      {},
      [
        ['v1', 50],
        ['v3', 50],
      ],
    ],
    ['virtual-service-reviews-v3.yaml', {}, [['v3', 100]]],
  ])('routes %s with headers %j to %j', (file, headers, want) => {
    expect(destinationsOf(file, request({ headers }))).toEqual(want);
  });

  it('resolves the short name reviews in the VirtualService namespace for every alias', () => {
    const plan = compilePlan(
      snapshotOf(platform, drAll, sample('bookinfo-networking/virtual-service-reviews-v3.yaml')),
      productpage,
    );
    const names = [
      'reviews',
      'reviews:9080',
      'reviews.default',
      'reviews.default.svc',
      'reviews.default.svc.cluster.local:9080',
    ];
    for (const authority of names) {
      const vh = plan.outbound.lookup(authority, 9080);
      expect(vh?.host, authority).toBe('reviews.default.svc.cluster.local');
      expect(vh?.virtualService).toEqual({ namespace: 'default', name: 'reviews' });
    }
    expect(plan.outbound.lookup('reviews', 8080)).toBeNull();
  });

  it('gives hosts without a VirtualService the default route with the default retry policy', () => {
    const plan = compilePlan(
      snapshotOf(platform, drAll, sample('bookinfo-networking/virtual-service-reviews-v3.yaml')),
      productpage,
    );
    const vh = plan.outbound.lookup('ratings:9080');
    expect(vh?.virtualService).toBeNull();
    const r = plan.outbound.route(vh!, request({ authority: 'ratings:9080' }));
    expect(r?.id).toBe('default');
    expect(r?.action).toMatchObject({
      kind: 'route',
      destinations: [{ cluster: 'outbound|9080||ratings.default.svc.cluster.local', weight: 100 }],
    });
    expect(r?.retries).toMatchObject({
      retries: 2,
      retriableStatusCodes: [],
      previousHosts: true,
      hostSelectionRetryMaxAttempts: 5,
    });
    expect(r?.timeoutMs).toBeNull();
  });

  it('builds a cluster per DestinationRule subset with the subset labels selecting endpoints', () => {
    const snap = snapshotOf(
      platform,
      drAll,
      sample('bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml'),
    );
    const plan = compilePlan(snap, productpage, {
      endpoints: {
        'reviews.default.svc.cluster.local': [
          { address: '10.0.0.1', port: 9080, labels: { app: 'reviews', version: 'v1' } },
          { address: '10.0.0.2', port: 9080, labels: { app: 'reviews', version: 'v2' } },
          { address: '10.0.0.3', port: 9080, labels: { app: 'reviews', version: 'v3' } },
        ],
      },
    });
    const v2 = plan.outbound.cluster('outbound|9080|v2|reviews.default.svc.cluster.local');
    expect(v2?.status).toBe('ok');
    expect(v2?.endpoints.map((e) => e.address)).toEqual(['10.0.0.2']);
    expect(plan.outbound.cluster('outbound|9080||reviews.default.svc.cluster.local')?.endpoints).toHaveLength(
      3,
    );
    expect(v2?.policy.loadBalancer.simple).toBe('LEAST_REQUEST');
  });

  it('applies fault injection only to the matching user (ratings-test-delay and abort)', () => {
    const snap = snapshotOf(
      platform,
      drAll,
      sample('bookinfo-networking/virtual-service-ratings-test-delay.yaml'),
    );
    const plan = compilePlan(snap, { ...productpage, labels: { app: 'reviews', version: 'v2' } });
    const vh = plan.outbound.lookup('ratings:9080')!;
    const jason = plan.outbound.route(
      vh,
      request({ authority: 'ratings:9080', headers: { 'end-user': 'jason' } }),
    );
    expect(jason?.fault).toEqual({ delay: { ms: 7000, percent: 100 }, abort: null });
    expect(plan.outbound.route(vh, request({ authority: 'ratings:9080' }))?.fault).toBeNull();
    const abort = compilePlan(
      snapshotOf(platform, drAll, sample('bookinfo-networking/virtual-service-ratings-test-abort.yaml')),
      productpage,
    );
    const r = abort.outbound.route(
      abort.outbound.lookup('ratings:9080')!,
      request({ authority: 'ratings:9080', headers: { 'end-user': 'jason' } }),
    );
    expect(r?.fault?.abort).toEqual({ httpStatus: 500, grpcStatus: null, percent: 100 });
  });

  it('returns a deeply frozen plan', () => {
    const plan = compilePlan(
      snapshotOf(platform, drAll, sample('bookinfo-networking/virtual-service-reviews-90-10.yaml')),
      productpage,
    );
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.outbound.virtualHosts)).toBe(true);
    const vh = plan.outbound.virtualHosts[0]!;
    expect(Object.isFrozen(vh.routes[0]!.action)).toBe(true);
    expect(Object.isFrozen(plan.outbound.clusters)).toBe(true);
    expect(Object.isFrozen(plan.inbound.peerAuthentication.portLevel)).toBe(true);
    expect(() => {
      (plan.outbound.virtualHosts as unknown[]).push(vh);
    }).toThrow(TypeError);
  });
});
