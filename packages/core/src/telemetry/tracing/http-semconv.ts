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
 * Span status per the HTTP conventions: 5xx is an error on both sides; 4xx only on a
 * CLIENT span; a transport failure (no status) is an error with `error.type`.
 */
export function setHttpStatus(
  span: Span,
  kind: 'client' | 'server',
  status: number,
  errorType: string | null,
): void {
  if (status > 0) span.setAttribute('http.response.status_code', status);
  const isError = status === 0 || status >= 500 || (kind === 'client' && status >= 400);
  if (!isError) return;
  span.setAttribute('error.type', errorType ?? (status > 0 ? String(status) : '_OTHER'));
  span.setStatus({ code: SpanStatusCode.ERROR });
}
