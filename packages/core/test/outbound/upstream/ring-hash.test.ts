import { describe, expect, it } from 'vitest';
import { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildRing, ringPick, type Ring } from '../../../src/outbound/upstream/ring-hash.js';
import { h64, loopbackEndpoints, tally } from './support.js';

// Expectations ported from envoy test/extensions/load_balancing_policies/ring_hash/
// ring_hash_lb_test.cc: the same hosts ("tcp://127.0.0.1:<port>"), ring sizes and hash values
// must choose the same hosts.

const U64_MAX = 0xffffffffffffffffn;

function hosts(ports: readonly number[], weights: readonly number[] = []): HostState[] {
  return loopbackEndpoints(ports, weights).map((e) => new HostState(e));
}

function port(ring: Ring, hash: bigint, retryCount = 0, skip: ((h: HostState) => boolean) | null = null) {
  return ringPick(ring, h64(hash), retryCount, skip)!.endpoint.port;
}

function positions(ring: Ring): [bigint, number][] {
  return ring.hosts.map((h, i) => [(BigInt(ring.hi[i]!) << 32n) | BigInt(ring.lo[i]!), h.endpoint.port]);
}

function perHost(ring: Ring): number[] {
  return Object.values(tally(ring.hosts.map((h) => h.id))).sort((a, b) => a - b);
}

describe('ring hash as Envoy builds and reads it', () => {
  const six = hosts([90, 91, 92, 93, 94, 95]);

  it('places <address:port>_<i> at xxHash64 positions, sorted (Basic)', () => {
    const ring = buildRing(six, 12);
    expect(positions(ring)).toEqual([
      [833437586790550860n, 94],
      [928266305478181108n, 92],
      [1033482794131418490n, 90],
      [3551244743356806947n, 95],
      [3851675632748031481n, 93],
      [5583722120771150861n, 91],
      [6311230543546372928n, 91],
      [7700377290971790572n, 93],
      [13144177310400110813n, 95],
      [13444792449719432967n, 92],
      [15516499411664133160n, 94],
      [16117243373044804889n, 90],
    ]);
  });

  it('chooses the first entry at or after the hash, wrapping past the end (Basic)', () => {
    const ring = buildRing(six, 12);
    expect(port(ring, 0n)).toBe(94);
    expect(port(ring, U64_MAX)).toBe(94);
    expect(port(ring, 3551244743356806947n)).toBe(95);
    expect(port(ring, 3551244743356806948n)).toBe(93);
    expect(port(ring, 16117243373044804880n)).toBe(90);
  });

  it('walks the ring by attempt under a retry host predicate (BasicWithRetryHostPredicate)', () => {
    const ring = buildRing(six, 12);
    const is = (p: number) => (h: HostState) => h.endpoint.port === p;
    // First attempt succeeds even when retry count is > 0.
    expect(port(ring, 0n, 2, () => false)).toBe(94);
    // Second attempt chooses the next host in the ring.
    expect(port(ring, 0n, 2, is(94))).toBe(92);
    // Exhausted retries return the last checked host.
    expect(port(ring, 0n, 2, () => true)).toBe(90);
    // Retries wrap around the ring.
    expect(port(ring, 0n, 13, () => true)).toBe(92);
  });

  it('rounds the ring up so each host gets whole entries (UnevenHosts)', () => {
    const ring = buildRing(hosts([80, 81]), 3);
    expect(positions(ring)).toEqual([
      [5454692015285649509n, 80],
      [7859399908942313493n, 81],
      [13838424394637650569n, 80],
      [16064866803292627174n, 81],
    ]);
    expect(port(ring, 0n)).toBe(80);
    const next = buildRing(hosts([81, 82]), 3);
    expect(positions(next)).toEqual([
      [7859399908942313493n, 81],
      [8241336090459785962n, 82],
      [12882406409176325258n, 82],
      [16064866803292627174n, 81],
    ]);
    expect(port(next, 0n)).toBe(81);
  });

  it('gives hosts entries in proportion to weight (HostWeightedTinyRing)', () => {
    const ring = buildRing(hosts([90, 91, 92], [1, 2, 3]), 6, 6);
    expect(ring.hosts).toHaveLength(6);
    expect(perHost(ring)).toEqual([1, 2, 3]);
    const expected: [bigint, number][] = [
      [928266305478181108n, 92],
      [4443673547860492590n, 92],
      [5583722120771150861n, 91],
      [6311230543546372928n, 91],
      [13444792449719432967n, 92],
      [16117243373044804889n, 90],
    ];
    for (const [hash, want] of expected) expect(port(ring, hash)).toBe(want);
  });

  it('splits a large weighted ring as Envoy does (HostWeightedLargeRing)', () => {
    const ring = buildRing(hosts([90, 91, 92], [1, 2, 3]), 6144);
    expect(ring.hosts).toHaveLength(6144);
    expect(perHost(ring)).toEqual([1024, 2048, 3072]);
    const counts = [0, 0, 0];
    for (let i = 0n; i < 6000n; i++) counts[port(ring, i * (U64_MAX / 6000n)) - 90]!++;
    expect(counts).toEqual([987, 1932, 3081]);
  });

  it('leaves hosts out of a ring too small for them (SmallFractionalScale)', () => {
    const ring = buildRing(hosts([90, 91, 92, 93]), 2, 2);
    expect(ring.hosts).toHaveLength(2);
    const counts = [0, 0, 0, 0];
    for (let i = 0n; i < 1024n; i++) counts[port(ring, i * (U64_MAX / 1024n)) - 90]!++;
    expect(counts.filter((n) => n === 0)).toHaveLength(2);
    expect(counts.reduce((a, b) => a + b)).toBe(1024);
  });

  it('splits fractional entries by running sums (LargeFractionalScale)', () => {
    const ring = buildRing(hosts([90, 91]), 1023, 1023);
    expect(ring.hosts).toHaveLength(1023);
    expect(perHost(ring)).toEqual([511, 512]);
    const counts = [0, 0];
    for (let i = 0n; i < 1023n; i++) counts[port(ring, i * (U64_MAX / 1023n)) - 90]!++;
    expect(counts).toEqual([526, 497]);
  });
});
