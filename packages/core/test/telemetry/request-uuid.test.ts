import { describe, expect, it } from 'vitest';
import { requestUuid } from '../../src/telemetry/tracing/request-uuid.js';
import { sampledByRequestId } from '../../src/telemetry/tracing/request-id-sampling.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestUuid', () => {
  it('makes distinct version-4 UUIDs across several refills of its random pool', () => {
    const ids = Array.from({ length: 2000 }, () => requestUuid());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('varies every random hex digit, and samples about the configured share (Envoy reads the first 8 digits)', () => {
    const ids = Array.from({ length: 20000 }, () => requestUuid());
    for (let at = 0; at < 36; at++) {
      if ([8, 13, 14, 18, 23].includes(at)) continue; // dashes and the version digit
      const seen = new Set(ids.map((id) => id[at]));
      expect(seen.size, `position ${at}`).toBeGreaterThanOrEqual(at === 19 ? 4 : 16);
    }
    const sampled = ids.filter((id) => sampledByRequestId(id, 10) === true).length;
    // 10 % of 20,000; a binomial's 5-sigma band is ±212.
    expect(Math.abs(sampled - 2000)).toBeLessThan(212);
  });
});
