type HeaderValue = string | readonly string[] | undefined;

const GRPC = 'application/grpc';

/** Envoy's `Grpc::Status::WellKnownGrpcStatus::MaximumKnown` (UNAUTHENTICATED). */
const MAXIMUM_KNOWN = 16;
/** Envoy's `InvalidCode`: a grpc-status that is not a number or not a known code. */
const INVALID_CODE = -1;

/** A header's value as Envoy holds it: repeats of an inline header (content-type, grpc-status) comma-joined. */
const joined = (v: HeaderValue): string | undefined =>
  v === undefined || typeof v === 'string' ? v : v.join(',');

/**
 * Whether a request is gRPC to Envoy's stats filter (istio_stats.cc `is_grpc_`,
 * envoy source/common/grpc/common.cc hasGrpcContentType): its content-type is exactly
 * `application/grpc` or starts with `application/grpc+`. `application/grpc-web…` is not,
 * nor is one with parameters (`application/grpc; charset=…`); the value is compared as
 * sent, case and all.
 */
export function isGrpcContentType(contentType: HeaderValue): boolean {
  const v = joined(contentType)?.trim();
  return v !== undefined && v.startsWith(GRPC) && (v.length === GRPC.length || v[GRPC.length] === '+');
}

/**
 * The gRPC status a `grpc-status` value reads as (envoy Grpc::Common::getGrpcStatus): null
 * when absent or empty, -1 when not a known code.
 */
function parseGrpcStatus(value: HeaderValue): number | null {
  const v = joined(value)?.trim();
  if (v === undefined || v === '') return null;
  if (!/^\+?\d+$/.test(v)) return INVALID_CODE;
  const code = Number(v);
  return code > MAXIMUM_KNOWN ? INVALID_CODE : code;
}

/**
 * The gRPC status an HTTP status stands for (envoy source/common/grpc/status.cc
 * httpToGrpcStatus, after grpc's http-grpc-status-mapping.md).
 */
function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/**
 * `grpc_response_status` of a gRPC request (istio_stats.cc IstioStatsFilter::log, envoy
 * Grpc::Common::getGrpcStatus): the response's `grpc-status`, else its HTTP status mapped
 * to a gRPC code, else null when no response was sent (`status` 0). Only response headers
 * count: Envoy's HTTP/1.1 codec drops trailers unless `enable_trailers` is set, which
 * istiod never does, and meshlet speaks HTTP/1.1 only.
 */
export function grpcResponseStatus(grpcStatusHeader: HeaderValue, status: number): number | null {
  const fromHeader = parseGrpcStatus(grpcStatusHeader);
  if (fromHeader !== null) return fromHeader;
  return status === 0 ? null : httpToGrpcStatus(status);
}
