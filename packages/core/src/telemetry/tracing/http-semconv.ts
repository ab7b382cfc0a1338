import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';

/** Methods the HTTP semantic conventions know; anything else is `_OTHER`. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * `http.request.method` (and `http.request.method_original` for an unknown one) and
 * the span name per OTel semconv `docs/http/http-spans.md`: `{method} {route}` on the
 * server when the route is known, `{method}` otherwise, `HTTP` for an unknown method.
 */
export function methodAttributes(
  method: string,
  route: string | null,
): { name: string; attributes: Attributes } {
  const upper = method.toUpperCase();
  if (KNOWN_METHODS.has(upper)) {
    return {
      name: route === null ? upper : `${upper} ${route}`,
      attributes:
        upper === method
          ? { 'http.request.method': upper }
          : { 'http.request.method': upper, 'http.request.method_original': method },
    };
  }
  return {
    name: route === null ? 'HTTP' : `HTTP ${route}`,
    attributes: { 'http.request.method': '_OTHER', 'http.request.method_original': method },
  };
}

const byMethod = new Map<string, { name: string; attributes: Attributes }>();

/** `methodAttributes(method, null)` (a CLIENT span's name and method attributes), built once per method. */
export function clientMethodAttributes(method: string): { name: string; attributes: Attributes } {
  let hit = byMethod.get(method);
  if (hit === undefined) {
    const made = methodAttributes(method, null);
    hit = Object.freeze({ name: made.name, attributes: Object.freeze(made.attributes) });
    // Methods are few; a client sending arbitrary ones must not grow the cache without end.
    if (byMethod.size < 64) byMethod.set(method, hit);
  }
  return hit;
}

/** Split `host[:port]`, IPv6 brackets included. */
export function splitAuthority(authority: string, defaultPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (m === null) return { host: authority, port: defaultPort };
  return {
    host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1'),
    port: m[2] === undefined ? defaultPort : Number(m[2]),
  };
}

/**
 * Span status and error tags. Envoy's tag `error=true` (what Zipkin and Jaeger show) is set
 * as Envoy sets it, on both kinds (envoy source/common/tracing/http_tracer_impl.cc
 * setCommonTags): no response, a 5xx, or a gRPC status that is an upstream error
 * (`grpcError`). The OpenTelemetry span status follows the HTTP semantic conventions, as
 * issue #5 asks: those errors, and a 4xx on a CLIENT span, with `error.type`. (OTel's Zipkin
 * exporter writes `error` only for a status with a message, so a client 4xx shows no error
 * there, as from a sidecar.) `http.status_code` is Envoy's string tag, "0" without a response.
 */
export function setHttpStatus(
  span: Span,
  kind: 'client' | 'server',
  status: number,
  errorType: string | null,
  grpcError: string | null = null,
): void {
  if (status > 0) span.setAttribute('http.response.status_code', status);
  span.setAttribute('http.status_code', status > 0 ? String(status) : '0');
  const envoyError = status === 0 || status >= 500 || grpcError !== null;
  if (envoyError) span.setAttribute('error', 'true');
  else if (!(kind === 'client' && status >= 400)) return;
  span.setAttribute('error.type', errorType ?? grpcError ?? (status > 0 ? String(status) : '_OTHER'));
  span.setStatus({ code: SpanStatusCode.ERROR });
}
