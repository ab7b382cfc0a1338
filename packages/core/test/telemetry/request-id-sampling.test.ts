import { describe, expect, it } from 'vitest';
import { markSampled, sampledByRequestId } from '../../src/telemetry/tracing/request-id-sampling.js';

describe('sampledByRequestId (envoy request_id/uuid toInteger and getTraceReason)', () => {
  it('reads the first 8 hex digits in either case, modulo 10000, against the percent in ten-thousandths', () => {
    // 0x000009C3 = 2499, 0x000009c4 = 2500.
    expect(sampledByRequestId('000009C3-0000-4000-8000-000000000000', 25)).toBe(true);
    expect(sampledByRequestId('000009c4-0000-4000-8000-000000000000', 25)).toBe(false);
    expect(sampledByRequestId('ffffffff', 100)).toBe(true);
    expect(sampledByRequestId('00000000', 0)).toBe(false);
  });

  it('gives no answer for an id without 8 leading hex digits, so the trace id decides', () => {
    expect(sampledByRequestId('req-1234', 50)).toBeNull();
    expect(sampledByRequestId('1234567', 50)).toBeNull();
    expect(sampledByRequestId('', 50)).toBeNull();
  });

  it('traces an id marked by an earlier hop (a, b, c at the version position), whatever the percent', () => {
    for (const mark of ['a', 'b', 'c'])
      expect(sampledByRequestId(`ffffffff-0000-${mark}000-8000-000000000000`, 0)).toBe(true);
    expect(sampledByRequestId('ffffffff-0000-4000-8000-000000000000', 0)).toBe(false);
  });

  it('marks only UUID-length ids, and leaves a marked one as it is', () => {
    expect(markSampled('0badc0de-1111-4222-8333-444455556666')).toBe('0badc0de-1111-b222-8333-444455556666');
    expect(markSampled('0badc0de-1111-a222-8333-444455556666')).toBe('0badc0de-1111-a222-8333-444455556666');
    expect(markSampled('custom-request-id')).toBe('custom-request-id');
  });
});
