import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../../src/outbound/backoff.js';
import { addFlag } from '../../../src/outbound/flags.js';
import type { ResponseFlag } from '../../../src/outbound/meshlet-info.js';
import { seededRandom } from '../../../src/runtime/random.js';

describe('backoffMs', () => {
  it.each([
    [1, 25],
    [2, 50],
    [3, 100],
    [4, 200],
    [5, 250],
    [9, 250],
  ])('keeps retry %i within [0, %i) with the 25 ms base and 250 ms cap', (k, ceiling) => {
    const random = seededRandom(k);
    let max = 0;
    for (let i = 0; i < 2000; i++) {
      const ms = backoffMs(k, 25, 250, random);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(ceiling);
      max = Math.max(max, ms);
    }
    // full jitter reaches the top of its range
    expect(max).toBeGreaterThanOrEqual(ceiling * 0.95 - 1);
  });

  it('scales with a route backoff base (max = 10 x base)', () => {
    const top = { next: () => 0.9999 };
    expect([1, 2, 3, 4, 5].map((k) => backoffMs(k, 100, 1000, top))).toEqual([99, 199, 399, 799, 999]);
  });
});

describe('addFlag', () => {
  it("keeps Envoy's flag order and no duplicates whatever the order flags are set in", () => {
    const flags: ResponseFlag[] = [];
    for (const f of ['URX', 'UF', 'DI', 'URX', 'UO', 'UT'] as const) addFlag(flags, f);
    expect(flags).toEqual(['UT', 'UF', 'UO', 'DI', 'URX']);
  });

  it('places RLSE after UAEX and DPE between URX and DT, as CoreResponseFlag orders them', () => {
    const flags: ResponseFlag[] = [];
    for (const f of ['DT', 'DPE', 'RLSE', 'URX', 'UAEX', 'NC'] as const) addFlag(flags, f);
    expect(flags).toEqual(['UAEX', 'RLSE', 'URX', 'DPE', 'DT', 'NC']);
  });
});
