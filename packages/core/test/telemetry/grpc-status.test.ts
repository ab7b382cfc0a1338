import { describe, expect, it } from 'vitest';
import { grpcResponseStatus, isGrpcContentType } from '../../src/telemetry/metrics/grpc-status.js';

// envoy source/common/grpc/common.cc hasGrpcContentType and getGrpcStatus, status.cc
// httpToGrpcStatus: what istio_stats.cc labels a request with.

describe('isGrpcContentType', () => {
  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc+json', true],
    ['application/grpc-web', false],
    ['application/grpc-web-text+proto', false],
    ['application/grpc; charset=utf-8', false],
    ['Application/gRPC', false],
    ['application/json', false],
    [undefined, false],
  ] as const)('%s is gRPC: %s', (contentType, want) => {
    expect(isGrpcContentType(contentType)).toBe(want);
  });
});

describe('grpcResponseStatus', () => {
  it.each([
    // The header wins over the HTTP status; a value that is no known code is -1 (InvalidCode).
    ['0', 503, 0],
    [' 16 ', 200, 16],
    ['17', 200, -1],
    ['-1', 200, -1],
    ['OK', 200, -1],
    [['5', '6'], 200, -1],
    // None, or an empty one: the HTTP status, mapped.
    [undefined, 200, 2],
    ['', 400, 13],
    [undefined, 401, 16],
    [undefined, 403, 7],
    [undefined, 404, 12],
    [undefined, 429, 14],
    [undefined, 502, 14],
    [undefined, 503, 14],
    [undefined, 504, 14],
    [undefined, 500, 2],
    // No response at all: no status.
    [undefined, 0, null],
  ] as const)('grpc-status %j with HTTP %i reads %j', (header, status, want) => {
    expect(grpcResponseStatus(header, status)).toBe(want);
  });
});
