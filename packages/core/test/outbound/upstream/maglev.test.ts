import { describe, expect, it } from 'vitest';
import { HostState } from '../../../src/outbound/upstream/host-state.js';
import { buildMaglev, maglevPick, type MaglevTable } from '../../../src/outbound/upstream/maglev.js';
import { h64, loopbackEndpoints } from './support.js';

// Expectations ported from envoy test/extensions/load_balancing_policies/maglev/
// maglev_lb_test.cc: the same hosts ("tcp://127.0.0.1:<port>"), table sizes and hash values
// must choose the same hosts.

function hosts(ports: readonly number[], weights: readonly number[] = []): HostState[] {
  return loopbackEndpoints(ports, weights).map((e) => new HostState(e));
}

function port(t: MaglevTable, hash: bigint, retryCount = 0, skip: ((h: HostState) => boolean) | null = null) {
  return maglevPick(t, h64(hash), retryCount, skip)!.endpoint.port;
}

/** Entries per host, fewest first (Envoy's min/max_entries_per_host gauges). */
function entries(t: MaglevTable): number[] {
  const counts = new Map<number, number>();
  for (let i = 0; i < t.size; i++) {
    const p = port(t, BigInt(i));
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return [...counts.values()].sort((a, b) => a - b);
}

describe('Maglev as Envoy builds and reads it', () => {
  const ports = [90, 91, 92, 93, 94, 95];

  it('fills the table in Envoy’s order and looks up hash % tableSize (Basic)', () => {
    const t = buildMaglev(hosts(ports), 7);
    const expected = [2, 4, 0, 1, 5, 0, 3];
    for (let i = 0; i < 3 * expected.length; i++) {
      expect(port(t, BigInt(i))).toBe(ports[expected[i % expected.length]!]);
    }
    expect(entries(t)[0]).toBe(1);
    expect(entries(t).at(-1)).toBe(2);
  });

  it('builds the same table whatever order the hosts come in (BasicStability)', () => {
    const t = buildMaglev(hosts([93, 95, 90, 94, 91, 92]), 7);
    const expected = [2, 4, 0, 1, 5, 0, 3];
    for (let i = 0; i < expected.length; i++) expect(port(t, BigInt(i))).toBe(ports[expected[i]!]);
  });

  it('flips the hash by attempt under a retry host predicate (BasicWithRetryHostPredicate)', () => {
    const t = buildMaglev(hosts(ports), 7);
    const is = (p: number) => (h: HostState) => h.endpoint.port === p;
    expect(port(t, 10n)).toBe(91);
    expect(port(t, 10n, 2, () => false)).toBe(91);
    expect(port(t, 10n, 2, is(91))).toBe(90);
    expect(port(t, 10n, 2, () => true)).toBe(95);
  });

  it('gives hosts table entries by weight (Weighted)', () => {
    const t = buildMaglev(hosts([90, 91], [1, 2]), 17);
    const expected = [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1];
    for (let i = 0; i < 3 * expected.length; i++) {
      expect(port(t, BigInt(i))).toBe([90, 91][expected[i % expected.length]!]);
    }
    expect(entries(t)).toEqual([6, 11]);
  });

  it('always picks a lone host (WeightedSingleHost)', () => {
    const t = buildMaglev(hosts([90], [7]), 17);
    for (let i = 0; i < 17; i++) expect(port(t, BigInt(i))).toBe(90);
  });

  it('reduces the full 64-bit hash modulo the table size', () => {
    const t = buildMaglev(hosts(ports), 65537);
    const big = 0xfedcba9876543210n;
    expect(port(t, big)).toBe(port(t, big % 65537n));
  });
});
