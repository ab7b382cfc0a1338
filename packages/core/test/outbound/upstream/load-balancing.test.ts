import { describe, expect, it } from 'vitest';
import { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildRing } from '../../../src/outbound/upstream/ring-hash.js';
import { xxHash64, hash64ToBigInt } from '../../../src/outbound/upstream/xxhash64.js';
import { ctx, endpoints, harness, loopbackEndpoints, NO_CONTEXT, reviewsCluster, tally } from './support.js';

const PICKS = 1000;

function picks(policy: string | null, n: number, weights: readonly number[] = [], count = PICKS, seed = 7) {
  const { manager } = harness(seed);
  const c = manager.get(reviewsCluster(policy), endpoints(n, weights));
  return tally(Array.from({ length: count }, () => c.pick(NO_CONTEXT)?.id));
}

describe('load balancing', () => {
  it('returns null when the cluster has no endpoints', () => {
    const { manager } = harness();
    expect(manager.get(reviewsCluster(null), []).pick(NO_CONTEXT)).toBeNull();
  });

  it('spreads ROUND_ROBIN exactly evenly when weights are equal', () => {
    expect(Object.values(picks('{ loadBalancer: { simple: ROUND_ROBIN } }', 4))).toEqual([
      250, 250, 250, 250,
    ]);
  });

  it('walks ROUND_ROBIN hosts in a fixed cycle', () => {
    const { manager } = harness(3);
    const c = manager.get(reviewsCluster('{ loadBalancer: { simple: ROUND_ROBIN } }'), endpoints(3));
    const seq = Array.from({ length: 9 }, () => c.pick(NO_CONTEXT)!.id);
    expect(seq.slice(3, 6)).toEqual(seq.slice(0, 3));
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
  });

  it.each([
    [
      [1, 3],
      [250, 750],
    ],
    [
      [1, 2, 5],
      [125, 250, 625],
    ],
  ])('splits weighted ROUND_ROBIN %j in proportion', (weights, expected) => {
    const counts = picks('{ loadBalancer: { simple: ROUND_ROBIN } }', weights.length, weights);
    expected.forEach((want, i) =>
      expect(Math.abs((counts[`10.0.0.${i + 1}:9080`] ?? 0) - want)).toBeLessThanOrEqual(1),
    );
  });

  it('spreads RANDOM uniformly within statistical bounds', () => {
    const counts = picks('{ loadBalancer: { simple: RANDOM } }', 4, [], 4000);
    for (const n of Object.values(counts)) {
      expect(n).toBeGreaterThan(850);
      expect(n).toBeLessThan(1150);
    }
    expect(Object.keys(counts)).toHaveLength(4);
  });

  it('ignores endpoint weights under RANDOM, as Envoy does', () => {
    const counts = picks('{ loadBalancer: { simple: RANDOM } }', 2, [1, 9], 2000);
    expect(counts['10.0.0.1:9080']).toBeGreaterThan(850);
    expect(counts['10.0.0.1:9080']).toBeLessThan(1150);
  });

  it.each([
    ['LEAST_REQUEST (default)', null],
    ['LEAST_REQUEST', '{ loadBalancer: { simple: LEAST_REQUEST } }'],
    ['LEAST_CONN, mapped to LEAST_REQUEST', '{ loadBalancer: { simple: LEAST_CONN } }'],
  ])('prefers idle hosts under %s (power of two choices)', (_name, policy) => {
    const { manager } = harness(11);
    const c = manager.get(reviewsCluster(policy), endpoints(3));
    const busy = c.hosts()[0]!;
    for (let i = 0; i < 5; i++) c.begin(busy);
    const counts = tally(Array.from({ length: 3000 }, () => c.pick(NO_CONTEXT)!.id));
    // The busy host wins only when both draws land on it: 1/9 of picks.
    expect(counts[busy.id]).toBeGreaterThan(333 - 90);
    expect(counts[busy.id]).toBeLessThan(333 + 90);
    expect(counts['10.0.0.2:9080']).toBeGreaterThan(1200);
    expect(counts['10.0.0.3:9080']).toBeGreaterThan(1200);
  });

  it('balances LEAST_REQUEST evenly as requests start and finish', () => {
    const { manager } = harness(5);
    const c = manager.get(reviewsCluster(null), endpoints(4));
    const inFlight: (() => void)[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const h = c.pick(NO_CONTEXT)!;
      ids.push(h.id);
      inFlight.push(c.begin(h));
      if (inFlight.length > 8) inFlight.shift()!();
    }
    for (const n of Object.values(tally(ids))) expect(Math.abs(n - 500)).toBeLessThan(60);
  });

  it('folds active requests into the weights of a weighted LEAST_REQUEST', () => {
    const { manager } = harness(2);
    const c = manager.get(reviewsCluster(null), endpoints(2, [1, 3]));
    const idle = tally(Array.from({ length: 1000 }, () => c.pick(NO_CONTEXT)!.id));
    expect(Math.abs(idle['10.0.0.2:9080']! - 750)).toBeLessThanOrEqual(2);

    const { manager: m2 } = harness(2);
    const c2 = m2.get(reviewsCluster(null), endpoints(2, [1, 3]));
    // weight 3 with 2 active = 3/3, weight 1 idle = 1/1: an even split.
    c2.begin(c2.hosts()[1]!);
    c2.begin(c2.hosts()[1]!);
    const busy = tally(Array.from({ length: 1000 }, () => c2.pick(NO_CONTEXT)!.id));
    expect(Math.abs(busy['10.0.0.2:9080']! - 500)).toBeLessThanOrEqual(2);
  });

  it.each([
    ['LEAST_REQUEST', null, []],
    ['weighted LEAST_REQUEST', null, [1, 2, 3]],
    ['ROUND_ROBIN', '{ loadBalancer: { simple: ROUND_ROBIN } }', []],
    ['weighted ROUND_ROBIN', '{ loadBalancer: { simple: ROUND_ROBIN } }', [5, 1, 1]],
    ['RANDOM', '{ loadBalancer: { simple: RANDOM } }', []],
    ['PASSTHROUGH', '{ loadBalancer: { simple: PASSTHROUGH } }', []],
  ])('never returns an excluded host under %s unless every host is excluded', (_n, policy, weights) => {
    const { manager } = harness(9);
    const c = manager.get(reviewsCluster(policy), endpoints(3, weights));
    const exclude = new Set(['10.0.0.1:9080', '10.0.0.2:9080']);
    for (let i = 0; i < 200; i++) {
      expect(c.pick(ctx({ exclude, hashKey: `user-${i}` }))!.id).toBe('10.0.0.3:9080');
    }
    const all = new Set(c.hosts().map((h) => h.id));
    expect(c.pick(ctx({ exclude: all, hashKey: 'user-1' }))).not.toBeNull();
  });

  it('keeps a weighted ROUND_ROBIN schedule intact across picks that skip a host', () => {
    const { manager } = harness(4);
    const c = manager.get(reviewsCluster('{ loadBalancer: { simple: ROUND_ROBIN } }'), endpoints(2, [1, 3]));
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) {
      ids.push(c.pick(NO_CONTEXT)!.id);
      // A retry that avoids the host just used does not cost anyone its turn.
      if (i % 10 === 0) c.pick(ctx({ exclude: new Set([ids[ids.length - 1]!]) }));
    }
    expect(Math.abs(tally(ids)['10.0.0.2:9080']! - 300)).toBeLessThanOrEqual(45);
  });

  it('uses the first endpoint under PASSTHROUGH (the address the caller dialled)', () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster('{ loadBalancer: { simple: PASSTHROUGH } }'), endpoints(3));
    expect(new Set(Array.from({ length: 50 }, () => c.pick(NO_CONTEXT)!.id))).toEqual(
      new Set(['10.0.0.1:9080']),
    );
  });
});

describe('ring hash', () => {
  const policy = '{ loadBalancer: { consistentHash: { httpHeaderName: x-user } } }';
  const keys = Array.from({ length: 1000 }, (_, i) => `user-${i}`);

  it('sends the same key to the same host every time', () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster(policy), endpoints(4));
    for (const key of keys.slice(0, 100)) {
      const first = c.pick(ctx({ hashKey: key }))!.id;
      for (let i = 0; i < 5; i++) expect(c.pick(ctx({ hashKey: key }))!.id).toBe(first);
    }
  });

  it('spreads keys over all hosts', () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster(policy), endpoints(4));
    const counts = tally(keys.map((k) => c.pick(ctx({ hashKey: k }))!.id));
    expect(Object.keys(counts)).toHaveLength(4);
    for (const n of Object.values(counts)) {
      expect(n).toBeGreaterThan(150);
      expect(n).toBeLessThan(350);
    }
  });

  it('moves the keys of a removed host and keeps most others in place', () => {
    const { manager } = harness();
    const cluster = reviewsCluster(policy);
    const eps = endpoints(4);
    const c = manager.get(cluster, eps);
    const before = new Map(keys.map((k) => [k, c.pick(ctx({ hashKey: k }))!.id]));
    manager.get(
      cluster,
      eps.filter((e) => e.address !== '10.0.0.3'),
    );
    let kept = 0;
    let stayed = 0;
    for (const k of keys) {
      const now = c.pick(ctx({ hashKey: k }))!.id;
      expect(now).not.toBe('10.0.0.3:9080');
      if (before.get(k) === '10.0.0.3:9080') continue;
      kept++;
      if (now === before.get(k)) stayed++;
    }
    // Envoy re-scales the ring for 3 hosts (342 entries each instead of 256), so about one
    // key in eight of the remaining hosts moves too (modulo hashing would move two in three).
    expect(kept).toBeGreaterThan(600);
    expect(stayed / kept).toBeGreaterThan(0.8);
  });

  it('picks at random when the request has no hash key', () => {
    const { manager } = harness();
    const c = manager.get(reviewsCluster(policy), endpoints(4));
    expect(Object.keys(tally(Array.from({ length: 200 }, () => c.pick(NO_CONTEXT)!.id)))).toHaveLength(4);
  });

  it('gives each host ring entries in proportion to its weight, at least minimumRingSize in all', () => {
    const hosts = endpoints(3, [1, 3, 4]).map((e) => new HostState(e));
    const ring = buildRing(hosts, 1024);
    expect(ring.hosts.length).toBeGreaterThanOrEqual(1024);
    const counts = tally(ring.hosts.map((h) => h.id));
    expect(counts['10.0.0.2:9080']).toBe(3 * counts['10.0.0.1:9080']!);
    expect(counts['10.0.0.3:9080']).toBe(4 * counts['10.0.0.1:9080']!);
    expect(buildRing(hosts, 4096).hosts.length).toBeGreaterThanOrEqual(4096);
  });
});

/**
 * The same key must reach the same pod from an Istio sidecar and from meshlet: Envoy's
 * ring (ring_hash_lb.cc) and Maglev table (maglev_lb.cc) over hosts `127.0.0.1:90..95`, keys
 * hashed with xxHash64 (hash_policy.cc). Positions from envoy ring_hash_lb_test.cc `Basic`.
 */
describe('consistent hash lands where Envoy lands', () => {
  const ports = [90, 91, 92, 93, 94, 95];
  const ringPolicy =
    '{ loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 12 } } } }';
  const maglevPolicy =
    '{ loadBalancer: { consistentHash: { httpHeaderName: x-user, maglev: { tableSize: 7 } } } }';
  const id = (p: number) => `127.0.0.1:${p}`;

  function cluster(policy: string) {
    const { manager } = harness();
    return manager.get(reviewsCluster(policy), loopbackEndpoints(ports));
  }

  it.each([
    // xxh64("foo") = 3728699739546630719 → next entry 3851675632748031481 (:93)
    ['foo', 93],
    // xxh64("bar") = 5234164152756840025 → 5583722120771150861 (:91)
    ['bar', 91],
    ['lyft', 91],
    // xxh64("") = 17241709254077376921 is past the last entry: wraps to :94
    ['', 94],
  ])('sends ring-hash key %j to :%i', (key, want) => {
    const c = cluster(ringPolicy);
    expect(c.pick(ctx({ hashKey: key }))!.id).toBe(id(want));
  });

  it('sends a retry that avoids the hashed host to the next ring entry', () => {
    const c = cluster(ringPolicy);
    // "foo" lands on entry 4 (:93); entries 5.. are :91 :91 :93 :95 :92 :94 :90.
    expect(c.pick(ctx({ hashKey: 'foo', exclude: new Set([id(93)]) }))!.id).toBe(id(91));
    expect(c.pick(ctx({ hashKey: 'foo', exclude: new Set([id(93), id(91)]) }))!.id).toBe(id(95));
  });

  it('gives up after Istio’s 5 host-selection retries and takes the last entry tried', () => {
    // Envoy tries ring offsets 0..5 (thread_aware_lb_impl.cc chooseHost; Istio retry.go
    // HostSelectionRetryMaxAttempts: 5), then keeps the last host even though it was tried.
    const c = cluster(ringPolicy);
    const exclude = new Set([id(90), id(91), id(92), id(93), id(95)]);
    expect(c.pick(ctx({ hashKey: 'foo', exclude }))!.id).toBe(id(92));
  });

  it('looks Maglev keys up in Envoy’s table (maglev_lb_test.cc Basic)', () => {
    const c = cluster(maglevPolicy);
    const table = [92, 94, 90, 91, 95, 90, 93];
    for (const key of ['foo', 'bar', 'lyft', '', 'user-1', 'user-2', 'user-3']) {
      const h = hash64ToBigInt(xxHash64(key));
      expect(c.pick(ctx({ hashKey: key }))!.id).toBe(id(table[Number(h % 7n)]!));
    }
  });

  it('flips the Maglev hash for a retry that avoids the hashed host', () => {
    const c = cluster(maglevPolicy);
    const table = [92, 94, 90, 91, 95, 90, 93];
    const h = hash64ToBigInt(xxHash64('foo'));
    const first = table[Number(h % 7n)]!;
    // Attempt 1: hash ^ (2^64 - 1) (maglev_lb.cc chooseHost).
    const second = table[Number((h ^ 0xffffffffffffffffn) % 7n)]!;
    expect(c.pick(ctx({ hashKey: 'foo' }))!.id).toBe(id(first));
    expect(second).not.toBe(first);
    expect(c.pick(ctx({ hashKey: 'foo', exclude: new Set([id(first)]) }))!.id).toBe(id(second));
  });

  it('picks at random over the Maglev table when the request has no key', () => {
    const c = cluster(maglevPolicy);
    const seen = new Set(Array.from({ length: 300 }, () => c.pick(NO_CONTEXT)!.id));
    expect(seen).toEqual(new Set(ports.map(id)));
  });
});
