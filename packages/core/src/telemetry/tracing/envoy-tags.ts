import type { Span } from '@opentelemetry/api';
import type { AccessLogEntry } from '../access-log/entry.js';
import { INBOUND_PASSTHROUGH_CLUSTER } from '../metrics/destination-service.js';
import type { DestinationService } from '../metrics/metric-event.js';
import type { HeaderRecord } from './propagation.js';

/**
 * The tags Envoy's HTTP connection manager puts on its span, ingress and egress alike
 * (envoy source/common/tracing/http_tracer_impl.cc finalizeDownstreamSpan, setCommonTags,
 * addGrpcRequestTags / addGrpcResponseTags). A sidecar's outbound span is its egress
 * listener's downstream span, so meshlet's CLIENT spans take the same set. Envoy's tags are
 * strings. Everything here runs only for a span that records.
 */

/** The `response_flags` tag: Envoy's short flags comma-joined, `-` when none. */
export const flagsOf = (f: readonly string[] | undefined): string =>
  f === undefined || f.length === 0 ? '-' : f.join(',');

/** Envoy's default `max_path_tag_length` (tracing config), used for `http.url`. */
export const DEFAULT_MAX_PATH_TAG_LENGTH = 256;

const first = (v: string | readonly string[] | undefined): string | undefined =>
  v === undefined ? undefined : typeof v === 'string' ? v : v[0];

/**
 * `http.url`: Envoy's Http::Utility::buildOriginalUri, `<x-forwarded-proto>://<host><path>`,
 * the path being `x-envoy-original-path` when a rewrite set it, cut at the path tag length.
 */
export function envoyHttpUrl(
  headers: HeaderRecord,
  scheme: string,
  authority: string,
  path: string,
  maxPathLength: number,
): string {
  const original = first(headers['x-envoy-original-path']);
  const p = original ?? path;
  return `${first(headers['x-forwarded-proto']) ?? scheme}://${authority}${p.length > maxPathLength ? p.slice(0, maxPathLength) : p}`;
}

/** Envoy's Grpc::Common::hasGrpcContentType (gRPC-Web is not gRPC here). */
function isGrpc(contentType: string | undefined): boolean {
  return (
    contentType !== undefined &&
    (contentType === 'application/grpc' ||
      contentType.startsWith('application/grpc+') ||
      contentType.startsWith('application/grpc;'))
  );
}

/** The request-side tags of finalizeDownstreamSpan. `peer` is the direct downstream IP. */
export function setEnvoyRequestTags(
  span: Span,
  method: string,
  url: string,
  path: string,
  authority: string,
  headers: HeaderRecord,
  peer: string | null,
): void {
  span.setAttribute('http.url', url);
  span.setAttribute('http.method', method);
  span.setAttribute('downstream_cluster', first(headers['x-envoy-downstream-service-cluster']) ?? '-');
  span.setAttribute('user_agent', first(headers['user-agent']) ?? '-');
  if (peer !== null) span.setAttribute('peer.address', peer);
  const clientTraceId = first(headers['x-client-trace-id']);
  if (clientTraceId !== undefined) span.setAttribute('guid:x-client-trace-id', clientTraceId);
  const contentType = first(headers['content-type']);
  if (isGrpc(contentType)) {
    span.setAttribute('grpc.path', path);
    span.setAttribute('grpc.authority', authority);
    span.setAttribute('grpc.content_type', contentType!);
    const timeout = first(headers['grpc-timeout']);
    if (timeout !== undefined) span.setAttribute('grpc.timeout', timeout);
  }
}

/** Envoy's %PROTOCOL% spelling: `HTTP/1.1`, `HTTP/2`, `HTTP/3` (Node reports `2.0`). */
function protocolTag(protocol: string | null | undefined): string {
  if (protocol === null || protocol === undefined) return 'HTTP/1.1';
  return protocol === 'HTTP/2.0' ? 'HTTP/2' : protocol === 'HTTP/3.0' ? 'HTTP/3' : protocol;
}

/**
 * gRPC codes Envoy counts as an upstream error (error=true): Unknown, DeadlineExceeded,
 * ResourceExhausted, Unimplemented, Internal, Unavailable, DataLoss. The client-side
 * codes (NotFound, InvalidArgument, ...) are not (envoy issue 18877).
 */
const GRPC_UPSTREAM_ERRORS: ReadonlySet<string> = new Set(['2', '4', '8', '12', '13', '14', '15']);

/**
 * The response-side tags of finalizeDownstreamSpan from the finished request's access-log
 * entry: `request_size`/`response_size` are Envoy's stream_info bytes received and sent
 * (bodies, %BYTES_RECEIVED% / %BYTES_SENT%), `http.protocol`, the cluster, and the gRPC
 * status. Returns the gRPC status when it is an upstream error, else null.
 */
export function setEnvoyResponseTags(
  span: Span,
  e: AccessLogEntry | null,
  requestBytes: number | undefined,
  responseBytes: number | undefined,
  cluster: string | null | undefined,
): string | null {
  const received = e?.bytesReceived ?? requestBytes;
  const sent = e?.bytesSent ?? responseBytes;
  if (received !== undefined) span.setAttribute('request_size', String(received));
  if (sent !== undefined) span.setAttribute('response_size', String(sent));
  span.setAttribute('http.protocol', protocolTag(e?.protocol));
  const c = cluster ?? e?.upstreamCluster ?? null;
  if (c !== null) {
    span.setAttribute('upstream_cluster', c);
    span.setAttribute('upstream_cluster.name', c);
  }
  if (e === null) return null;
  const grpcStatus = first(e.responseHeaders['grpc-status']);
  if (grpcStatus === undefined) return null;
  span.setAttribute('grpc.status_code', grpcStatus);
  const message = first(e.responseHeaders['grpc-message']);
  if (message !== undefined) span.setAttribute('grpc.message', message);
  const code = grpcStatus.trim();
  return GRPC_UPSTREAM_ERRORS.has(code) ? code : null;
}

/**
 * The operation of the route istiod builds for an inbound port: `<service host>:<service
 * port>/*` (pilot networking/telemetry TraceOperation, httproute.go
 * buildSidecarInboundHTTPRouteConfig, with the chain's ServicePort: a Service's `port`, not
 * its `targetPort`). The passthrough chain has no service host, so its operation is
 * `:<port>/*`.
 */
export function inboundTraceOperation(service: DestinationService, port: number): string {
  return service.name === INBOUND_PASSTHROUGH_CLUSTER
    ? `:${port}/*`
    : `${service.host}:${service.port ?? port}/*`;
}

/**
 * The span name of an outbound call when routing gave no operation: the default route
 * istiod builds for a Service, `<host>:<port>/*` of its cluster `outbound|<port>|<subset>|<host>`
 * (pilot route.go buildSidecarVirtualHostForService / GetRouteOperation). The passthrough
 * and blackhole routes have no decorator, so the tracer's own name, `undecorated`
 * (`egressFallbackName`).
 */
export function egressOperation(cluster: string | null | undefined, undecorated: string): string {
  if (cluster !== null && cluster !== undefined && cluster.startsWith('outbound|')) {
    const parts = cluster.split('|');
    if (parts.length === 4 && parts[3] !== '') return `${parts[3]}:${parts[1]}/*`;
  }
  return undecorated;
}

/**
 * The name of an egress span no route decorator names: `egress <authority>` (envoy
 * source/common/tracing/tracer_impl.cc startSpan), except under Envoy's Zipkin tracer,
 * which ignores that name and starts the span as the bare `<authority>`
 * (source/extensions/tracers/zipkin/zipkin_tracer_impl.cc Driver::startSpan).
 */
export function egressFallbackName(authority: string, zipkin: boolean): string {
  return zipkin ? authority : `egress ${authority}`;
}
