import type { Span } from '@opentelemetry/api';
import type { AccessLogEntry } from './entry.js';

/**
 * Connection ids, handed out the first time a connection's request is logged: one counter
 * for downstream and upstream connections, as Envoy's (network/connection_impl.cc
 * ConnectionImpl::next_global_id_).
 */
const CONNECTION_IDS = new WeakMap<object, number>();
let nextConnectionId = 1;

function idOf(c: object | null | undefined): number {
  if (c === null || c === undefined) return 0;
  let id = CONNECTION_IDS.get(c);
  if (id === undefined) {
    id = nextConnectionId++;
    CONNECTION_IDS.set(c, id);
  }
  return id;
}

/** `%CONNECTION_ID%`, `connection.id`: 0 when the request came on no connection. */
export function connectionIdOf(e: AccessLogEntry): number {
  return idOf(e.connection);
}

/**
 * `%UPSTREAM_CONNECTION_ID%`: the answering try's connection, 0 without one
 * (stream_info_formatter.cc: `upstreamConnectionId().value_or(0)`).
 */
export function upstreamConnectionIdOf(e: AccessLogEntry): number {
  return idOf(e.upstreamConnection);
}

/** A header map's byte size as Envoy counts it (HeaderMap::byteSize: names and values). */
function headerMapBytes(
  headers: AccessLogEntry['requestHeaders'],
  pseudo: readonly (string | null)[],
): number {
  let n = 0;
  for (let i = 0; i + 1 < pseudo.length; i += 2) {
    const v = pseudo[i + 1];
    if (v !== null && v !== undefined) n += (pseudo[i] as string).length + v.length;
  }
  for (const name in headers) {
    if (name === 'host' && pseudo.includes(':authority')) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') n += name.length + v.length;
    else for (const one of v) n += name.length + one.length;
  }
  return n;
}

/**
 * `%REQUEST_HEADERS_BYTES%`, `request.headers_bytes`: the request header map as the access
 * log reads it, with Envoy's pseudo-headers (`:authority` standing for Host).
 */
export function requestHeadersBytes(e: AccessLogEntry): number {
  return (
    e.requestHeadersBytes ??
    headerMapBytes(e.requestHeaders, [
      ':method',
      e.method,
      ':path',
      e.path,
      ':authority',
      e.authority ?? null,
      ':scheme',
      e.scheme ?? null,
    ])
  );
}

/** `%RESPONSE_HEADERS_BYTES%`, `response.headers_bytes`: `:status` and the response headers; 0 without a response. */
export function responseHeadersBytes(e: AccessLogEntry): number {
  return (
    e.responseHeadersBytes ??
    (e.responseCode === 0 ? 0 : headerMapBytes(e.responseHeaders, [':status', String(e.responseCode)]))
  );
}

/**
 * The request span's ids as the entry carries them (`%TRACE_ID%`, an OpenTelemetry access
 * log's trace and span ids): none without a span, or for the all-zero trace id of a span
 * that belongs to no trace.
 */
export function traceIdsOf(span: Span | null): { traceId: string | null; spanId: string | null } {
  const c = span?.spanContext();
  if (c === undefined || /^0*$/.test(c.traceId)) return { traceId: null, spanId: null };
  return { traceId: c.traceId, spanId: c.spanId };
}
