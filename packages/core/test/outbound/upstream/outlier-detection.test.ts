import { describe, expect, it } from 'vitest';
import { createClusterManager } from '../../../src/outbound/upstream/cluster-manager.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import type { UpstreamCluster, UpstreamHost } from '../../../src/outbound/upstream/types.js';
import { endpoints, harness, httpbinCircuitBreaker, NO_CONTEXT, reviewsCluster, tally } from './support.js';

const fail = (c: UpstreamCluster, h: UpstreamHost, status = 503, times = 1) => {
  for (let i = 0; i < times; i++) c.record(h, { kind: 'response', status });
};
const ok = (c: UpstreamCluster, h: UpstreamHost) => c.record(h, { kind: 'response', status: 200 });
const pickedIds = (c: UpstreamCluster, n = 200) =>
  new Set(Array.from({ length: n }, () => c.pick(NO_CONTEXT)?.id ?? null));
const host = (c: UpstreamCluster, i: number) => c.hosts()[i]!;

describe('outlier detection', () => {
  it('ejects after one 5xx and returns after baseEjectionTime on the next sweep (Istio circuit-breaking task)', async () => {
    const { manager, clock, events } = harness();
    const cluster = httpbinCircuitBreaker(); // consecutive5xxErrors 1, interval 1s, baseEjectionTime 3m
    const c = manager.get(cluster, endpoints(2));
    const bad = host(c, 0);
    fail(c, bad, 502);
    expect(bad.ejected).toBe(true);
    expect(pickedIds(c)).toEqual(new Set(['10.0.0.2:9080']));
    expect(manager.stats(cluster.key)).toMatchObject({ ejectionsTotal: 1, ejectedNow: 1 });
    expect(events[0]).toMatchObject({
      type: 'eject',
      host: bad.id,
      cause: 'consecutive-5xx',
      durationMs: 180_000,
    });

    await clock.advance(179_999);
    expect(bad.ejected).toBe(true);
    await clock.advance(1);
    expect(bad.ejected).toBe(false);
    expect(events[1]).toEqual({ type: 'uneject', cluster: cluster.key, host: bad.id, at: 180_000 });
    expect(pickedIds(c)).toEqual(new Set(['10.0.0.1:9080', '10.0.0.2:9080']));
    expect(manager.stats(cluster.key)).toMatchObject({ ejectionsTotal: 1, ejectedNow: 0 });
  });

  it('ejects only after N consecutive 5xx; a success resets the count', () => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 3, maxEjectionPercent: 100 } }'),
      endpoints(2),
    );
    const h = host(c, 0);
    fail(c, h, 500, 2);
    ok(c, h);
    fail(c, h, 500, 2);
    expect(h.ejected).toBe(false);
    fail(c, h, 500);
    expect(h.ejected).toBe(true);
  });

  it('counts only 502/503/504 as gateway errors; another 5xx resets that count', () => {
    const { manager, events } = harness();
    const c = manager.get(
      reviewsCluster(
        '{ outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 } }',
      ),
      endpoints(2),
    );
    const [a, b] = [host(c, 0), host(c, 1)];
    fail(c, a, 502);
    fail(c, a, 500);
    fail(c, a, 504);
    expect(a.ejected).toBe(false);
    fail(c, b, 503);
    fail(c, b, 504);
    expect(b.ejected).toBe(true);
    expect(events.find((e) => e.type === 'eject')).toMatchObject({
      host: b.id,
      cause: 'consecutive-gateway-failure',
    });
  });

  it('disables 5xx ejection when consecutive5xxErrors is 0', () => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 0, maxEjectionPercent: 100 } }'),
      endpoints(2),
    );
    fail(c, host(c, 0), 500, 50);
    expect(host(c, 0).ejected).toBe(false);
  });

  it.each([
    ['connect-failure', 503],
    ['connect-timeout', 504],
    ['reset', 503],
    ['timeout', 504],
  ] as const)('counts a local %s as a %i without split mode', (failure, code) => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster(
        '{ outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 } }',
      ),
      endpoints(2),
    );
    const h = host(c, 0);
    fail(c, h, code === 503 ? 504 : 503);
    c.record(h, { kind: 'local-failure', failure });
    expect(h.ejected).toBe(true);
  });

  it('keeps local-origin failures apart from 5xx in split mode', () => {
    const policy = (split: boolean) =>
      split
        ? '{ outlierDetection: { consecutive5xxErrors: 2, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, maxEjectionPercent: 100 } }'
        : '{ outlierDetection: { consecutive5xxErrors: 2, maxEjectionPercent: 100 } }';
    const run = (split: boolean) => {
      const { manager, events } = harness();
      const c = manager.get(reviewsCluster(policy(split)), endpoints(2));
      const h = host(c, 0);
      fail(c, h, 500);
      c.record(h, { kind: 'local-failure', failure: 'connect-failure' });
      return { c, h, events };
    };
    expect(run(false).h.ejected).toBe(true);

    const { c, h, events } = run(true);
    expect(h.ejected).toBe(false);
    // A response means the connection worked: the local count starts over.
    ok(c, h);
    c.record(h, { kind: 'local-failure', failure: 'connect-timeout' });
    expect(h.ejected).toBe(false);
    c.record(h, { kind: 'local-failure', failure: 'reset' });
    expect(h.ejected).toBe(true);
    expect(events.find((e) => e.type === 'eject')).toMatchObject({
      cause: 'consecutive-local-origin-failure',
    });
  });

  it.each([
    [2, false],
    [5, false],
    [9, false],
    [10, true],
  ])('with the default maxEjectionPercent (10%%), a pool of %i hosts ejects: %s', (n, ejects) => {
    const { manager, events } = harness();
    const c = manager.get(reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 5 } }'), endpoints(n));
    fail(c, host(c, 0), 500, 5);
    expect(host(c, 0).ejected).toBe(ejects);
    if (!ejects)
      expect(events).toEqual([expect.objectContaining({ type: 'eject-overflow', host: host(c, 0).id })]);
  });

  it('stops ejecting once maxEjectionPercent of the hosts are out', () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 1 } }'), endpoints(10));
    fail(c, host(c, 0));
    fail(c, host(c, 1));
    expect([host(c, 0).ejected, host(c, 1).ejected]).toEqual([true, false]);
    // The blocked host's counter was reset: one more error tries again (and is blocked again).
    expect(manager.stats(c.key)).toMatchObject({ ejectedNow: 1, ejectionsTotal: 1 });
  });

  it('ejects for baseEjectionTime × times ejected, capped at maxEjectionTime, returning on sweeps', async () => {
    const { manager, clock, events } = harness();
    // interval 10s, baseEjectionTime 30s (defaults); Envoy's cap is 300s.
    const c = manager.get(
      reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100 } }'),
      endpoints(2),
    );
    const h = host(c, 0);
    await clock.advance(5_000);
    fail(c, h);
    await clock.advance(30_000); // sweeps at 10, 20, 30 s: only 25 s ejected so far
    expect(h.ejected).toBe(true);
    await clock.advance(5_000); // sweep at 40 s
    expect(h.ejected).toBe(false);
    fail(c, h); // ejected again at 40 s, before a healthy interval passed: twice as long
    await clock.advance(50_000);
    expect(h.ejected).toBe(true);
    await clock.advance(10_000); // sweep at 100 s: 60 s
    expect(h.ejected).toBe(false);
    const durations = events
      .filter((e) => e.type === 'eject')
      .map((e) => (e.type === 'eject' ? e.durationMs : 0));
    expect(durations).toEqual([30_000, 60_000]);

    // Re-eject on the very sweep that returns it, so the backoff never decays.
    for (let i = 0; i < 12; i++) {
      fail(c, h);
      while (h.ejected) await clock.advance(10_000);
    }
    const all = events.flatMap((e) => (e.type === 'eject' ? [e.durationMs] : []));
    expect(all.slice(2, 6)).toEqual([90_000, 120_000, 150_000, 180_000]);
    expect(Math.max(...all)).toBe(300_000);
    expect(all.at(-1)).toBe(300_000);
  });

  it('shortens the next ejection after a healthy interval (backoff decrement)', async () => {
    const { manager, clock, events } = harness();
    const c = manager.get(
      reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100 } }'),
      endpoints(2),
    );
    const h = host(c, 0);
    fail(c, h); // at 0: 30 s
    await clock.advance(30_000); // returned at the 30 s sweep
    expect(h.ejected).toBe(false);
    await clock.advance(10_000); // the 40 s sweep finds it healthy for an interval
    fail(c, h);
    expect(
      events.filter((e) => e.type === 'eject').map((e) => (e.type === 'eject' ? e.durationMs : 0)),
    ).toEqual([30_000, 30_000]);
  });

  it('returns null from pick when every host is ejected (minHealthPercent 0: no panic)', () => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster('{ outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100 } }'),
      endpoints(3),
    );
    for (const h of c.hosts()) fail(c, h);
    expect(c.pick(NO_CONTEXT)).toBeNull();
    expect(manager.stats(c.key)!.ejectedNow).toBe(3);
  });

  it.each([
    [60, true],
    [50, false],
  ])('uses every host when healthy%% falls below minHealthPercent %i (panic: %s)', (min, panic) => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster(
        `{ outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: ${min} } }`,
      ),
      endpoints(4),
    );
    fail(c, host(c, 0));
    fail(c, host(c, 1));
    const seen = pickedIds(c, 400);
    expect(seen.has(host(c, 0).id)).toBe(panic);
    expect(seen.size).toBe(panic ? 4 : 2);
  });

  it('does not panic while 140% of the healthy share still covers the load (overprovisioning factor)', () => {
    const { manager } = harness();
    const c = manager.get(
      reviewsCluster(
        '{ outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100, minHealthPercent: 90 } }',
      ),
      endpoints(4),
    );
    fail(c, host(c, 0)); // 75% healthy < 90%, but 1.4 × 75% ≥ 100%: Envoy stays out of panic
    expect(pickedIds(c, 400).has(host(c, 0).id)).toBe(false);
  });

  it('never ejects without an outlierDetection block', () => {
    const { manager, clock } = harness();
    const c = manager.get(reviewsCluster(null), endpoints(2));
    expect(clock.pending()).toBe(0);
    fail(c, host(c, 0), 503, 100);
    expect(pickedIds(c).size).toBe(2);
    expect(manager.stats(c.key)).toMatchObject({ ejectionsTotal: 0, ejectedNow: 0 });
  });

  it('does not count pool overflow as an upstream error', async () => {
    const { manager } = harness();
    const c = manager.get(httpbinCircuitBreaker(), endpoints(1));
    await c.admit(null);
    void c.admit(null);
    for (let i = 0; i < 5; i++) expect((await c.admit(null)).ok).toBe(false);
    expect(host(c, 0).ejected).toBe(false);
    expect(manager.stats(c.key)).toMatchObject({ pendingOverflow: 5, ejectionsTotal: 0 });
  });

  it('keeps one sweep timer per cluster with outlier detection and clears it on close', () => {
    const { manager, clock } = harness();
    manager.get(reviewsCluster(null), endpoints(2));
    expect(clock.pending()).toBe(0);
    const cluster = httpbinCircuitBreaker();
    manager.get(cluster, endpoints(2));
    manager.get(cluster, endpoints(3));
    expect(clock.pending()).toBe(1);
    manager.close();
    expect(clock.pending()).toBe(0);
  });

  it('survives a throwing event listener', () => {
    const manager = createClusterManager({
      clock: createManualClock(),
      random: seededRandom(1),
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    const c = manager.get(httpbinCircuitBreaker(), endpoints(2));
    expect(() => fail(c, host(c, 0))).not.toThrow();
    expect(host(c, 0).ejected).toBe(true);
    manager.close();
  });
});

describe('cluster state across plan reloads', () => {
  it('returns the same cluster and keeps remaining hosts’ counters and ejections', () => {
    const { manager } = harness();
    const cluster = reviewsCluster(
      '{ outlierDetection: { consecutive5xxErrors: 3, maxEjectionPercent: 100 } }',
    );
    const eps = endpoints(4);
    const c = manager.get(cluster, eps.slice(0, 3));
    fail(c, host(c, 0), 500, 2); // 2 of 3 toward ejection
    fail(c, host(c, 1), 500, 3); // ejected
    const ejected = host(c, 1);

    // Host 3 leaves, host 4 arrives; a fresh plan object for the same key.
    const reloaded = reviewsCluster(
      '{ outlierDetection: { consecutive5xxErrors: 3, maxEjectionPercent: 100 } }',
    );
    const again = manager.get(reloaded, [eps[0]!, eps[1]!, eps[3]!]);
    expect(again).toBe(c);
    expect(c.hosts().map((h) => h.id)).toEqual(['10.0.0.1:9080', '10.0.0.2:9080', '10.0.0.4:9080']);
    expect(host(c, 1)).toBe(ejected);
    expect(ejected.ejected).toBe(true);
    fail(c, host(c, 0), 500); // the third consecutive 5xx
    expect(host(c, 0).ejected).toBe(true);
    fail(c, host(c, 2), 500, 2); // new host starts from zero
    expect(host(c, 2).ejected).toBe(false);
    expect(manager.stats(c.key)!.ejectedNow).toBe(2);
  });

  it('drops a removed host’s ejection from the count and ignores its late results', () => {
    const { manager } = harness();
    const cluster = httpbinCircuitBreaker();
    const eps = endpoints(3);
    const c = manager.get(cluster, eps);
    const gone = host(c, 2);
    fail(c, gone);
    expect(manager.stats(cluster.key)!.ejectedNow).toBe(1);
    manager.get(cluster, eps.slice(0, 2));
    expect(manager.stats(cluster.key)!.ejectedNow).toBe(0);
    c.begin(gone)();
    fail(c, gone);
    expect(manager.stats(cluster.key)!.ejectionsTotal).toBe(1);
    expect(tally([...pickedIds(c)].map((id) => id ?? undefined))).toEqual({
      '10.0.0.1:9080': 1,
      '10.0.0.2:9080': 1,
    });
  });

  it('returns every host when outlierDetection is removed from the plan', () => {
    const { manager, clock } = harness();
    const c = manager.get(httpbinCircuitBreaker(), endpoints(2));
    fail(c, host(c, 0));
    const without = { ...httpbinCircuitBreaker() };
    without.policy = { ...without.policy, outlierDetection: null };
    manager.get(without, endpoints(2));
    expect(host(c, 0).ejected).toBe(false);
    expect(pickedIds(c).size).toBe(2);
    expect(clock.pending()).toBe(0);
  });
});
