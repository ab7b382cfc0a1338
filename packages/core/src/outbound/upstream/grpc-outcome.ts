import type { AttemptOutcome } from './types.js';

/**
 * The HTTP status Envoy's router feeds outlier detection for a gRPC status it reads in a
 * response (envoy source/common/grpc/status.cc `Utility::grpcToHttpStatus`, the mapping of
 * google/rpc/code.proto): UNAVAILABLE is 503, DEADLINE_EXCEEDED 504, and so on.
 */
const GRPC_TO_HTTP: readonly number[] = [
  200, // OK
  499, // CANCELLED
  500, // UNKNOWN
  400, // INVALID_ARGUMENT
  504, // DEADLINE_EXCEEDED
  404, // NOT_FOUND
  409, // ALREADY_EXISTS
  403, // PERMISSION_DENIED
  429, // RESOURCE_EXHAUSTED
  400, // FAILED_PRECONDITION
  409, // ABORTED
  400, // OUT_OF_RANGE
  501, // UNIMPLEMENTED
  500, // INTERNAL
  503, // UNAVAILABLE
  500, // DATA_LOSS
  401, // UNAUTHENTICATED
];

export function grpcToHttpStatus(code: number): number {
  return GRPC_TO_HTTP[code] ?? 500;
}

/** A gRPC call's status as outlier detection counts it. */
export function grpcOutcome(code: number): AttemptOutcome {
  return { kind: 'response', status: grpcToHttpStatus(code) };
}
