/**
 * The span of one CUSTOM check: Envoy's ext_authz filter calls its provider with an async
 * client whose span is a child of the request's span and keeps the parent's sampling
 * (envoy ext_authz_http_impl.cc check: setParentSpan, setChildSpanName, setSampled(nullopt)).
 */
export interface ExtAuthzSpan {
  /** The span's trace headers (traceparent, b3, ...), to send with the check. */
  readonly headers: Readonly<Record<string, string>>;
  end(result: ExtAuthzSpanResult): void;
}

export interface ExtAuthzSpanResult {
  /** The provider's HTTP status; 0 when it gave none. */
  readonly status: number;
  /** Envoy's tags: `ext_authz_status`, `ext_authz_http_status`, `grpc.status_code`. */
  readonly tags: Readonly<Record<string, string>>;
  /** Why the check got no answer. */
  readonly error: string | null;
}

/**
 * Starts a check's span under the current request's span; null when there is none to
 * hang it on (no request context, or telemetry off).
 */
export type ExtAuthzTracer = (check: {
  /** `async <cluster> egress` (HTTP) or `async envoy.service.auth.v3.Authorization.Check egress` (gRPC). */
  readonly name: string;
  readonly method: string;
  readonly url: string;
  /** `outbound|<port>||<host>`. */
  readonly cluster: string;
}) => ExtAuthzSpan | null;

/** Envoy's `ext_authz_status` values (ext_authz.h TracingConstantValues). */
export const EXT_AUTHZ_OK = 'ext_authz_ok';
export const EXT_AUTHZ_UNAUTHORIZED = 'ext_authz_unauthorized';
/** A gRPC CheckResponse with an `error_response` (ext_authz_grpc_impl.cc onSuccess, TraceError). */
export const EXT_AUTHZ_ERROR = 'ext_authz_error';
