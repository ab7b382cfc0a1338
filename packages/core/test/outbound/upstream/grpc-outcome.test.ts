import { describe, expect, it } from 'vitest';
import { grpcOutcome, grpcToHttpStatus } from '../../../src/outbound/upstream/grpc-outcome.js';

// envoy source/common/grpc/status.cc Utility::grpcToHttpStatus: what the router feeds
// outlier detection when a response carries a gRPC status.
describe('gRPC status as outlier detection counts it', () => {
  it.each([
    [0, 200],
    [1, 499],
    [4, 504],
    [7, 403],
    [8, 429],
    [12, 501],
    [13, 500],
    [14, 503],
    [16, 401],
    [17, 500],
  ])('gRPC %i is HTTP %i', (code, http) => {
    expect(grpcToHttpStatus(code)).toBe(http);
    expect(grpcOutcome(code)).toEqual({ kind: 'response', status: http });
  });
});
