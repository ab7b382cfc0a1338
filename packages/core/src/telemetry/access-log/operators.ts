import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { grpcResponseStatus, isGrpcContentType } from '../metrics/grpc-status.js';
import type { AccessLogEntry } from './entry.js';
import {
  connectionIdOf,
  requestHeadersBytes,
  responseHeadersBytes,
  upstreamConnectionIdOf,
} from './entry-facts.js';
import { grpcStatusName, longResponseFlags } from './names.js';
import { metadataOperator } from './operators-metadata.js';
import { celOperator, filterStateOperator } from './operators-state.js';
import { timeOperator } from './operators-time.js';
import { tlsOperator } from './operators-tls.js';

/** An operator's value: a string, a number (typed in JSON), or null (unset: `-` in TEXT, null in JSON). */
export type OperatorValue = string | number | null;
export type Extractor = (entry: AccessLogEntry) => OperatorValue;
/**
 * A compiled operator: its extractor; null when meshlet does not know it; or why it cannot
 * print what Envoy would (a load warning; the line prints `-` for it).
 */
export type OperatorResult = Extractor | null | { readonly problem: string };

type Headers = AccessLogEntry['requestHeaders'];

function header(headers: Headers, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return typeof v === 'string' ? v : v.join(',');
}

function requestHeader(entry: AccessLogEntry, name: string): string | null {
  switch (name) {
    case ':method':
      return entry.method;
    case ':path':
      return entry.path;
    case ':authority':
      return entry.authority ?? header(entry.requestHeaders, 'host');
    case ':scheme':
      return entry.scheme ?? null;
    default:
      return header(entry.requestHeaders, name);
  }
}

/** `X?Y`: the first header, else the alternative (Envoy's `REQ(X?Y)`). */
function headerPair(arg: string): readonly [string, string | null] {
  const [main, alt] = arg.toLowerCase().split('?');
  return [main ?? '', alt ?? null];
}

function withoutQuery(v: string | null): string | null {
  if (v === null) return null;
  const q = v.indexOf('?');
  return q < 0 ? v : v.slice(0, q);
}

const nullIfEmpty = (v: string | null | undefined): string | null =>
  v === undefined || v === null || v === '' ? null : v;
const withoutPort = (v: string | null): string | null =>
  v === null ? null : v.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
/** The port of `ip:port`, a number (typed in JSON, as Envoy's justPort). */
const justPort = (v: string | null): number | null => {
  const m = v === null ? null : /:(\d+)$/.exec(v);
  return m === null || m === undefined ? null : Number(m[1]);
};

/** An address operator's three forms: `X`, `X_WITHOUT_PORT`, `X_PORT`. */
function address(
  name: string,
  base: string,
  get: (e: AccessLogEntry) => string | null | undefined,
): Extractor | null {
  if (name === base) return (e) => nullIfEmpty(get(e));
  if (name === `${base}_WITHOUT_PORT`) return (e) => withoutPort(nullIfEmpty(get(e)));
  if (name === `${base.replace(/_ADDRESS$/, '')}_PORT`) return (e) => justPort(nullIfEmpty(get(e)));
  return null;
}

/** The addresses meshlet knows, by Envoy operator stem (stream_info_formatter.cc). */
const ADDRESSES: readonly (readonly [string, (e: AccessLogEntry) => string | null | undefined])[] = [
  ['DOWNSTREAM_LOCAL_ADDRESS', (e) => e.downstreamLocalAddress],
  ['DOWNSTREAM_REMOTE_ADDRESS', (e) => e.downstreamRemoteAddress],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS', (e) => e.downstreamDirectRemoteAddress],
  ['UPSTREAM_LOCAL_ADDRESS', (e) => e.upstreamLocalAddress],
  // The remote end of the upstream connection: the host's address.
  [
    'UPSTREAM_REMOTE_ADDRESS',
    (e) => (e.upstreamRemoteAddress === undefined ? e.upstreamHost : e.upstreamRemoteAddress),
  ],
];

/**
 * `%GRPC_STATUS%` of a gRPC request (Envoy logs none for another, since
 * `validate_grpc_header_before_log_grpc_status`): the response's grpc-status, any number
 * kept (user-defined codes print as numbers), else the one its HTTP status maps to.
 */
function grpcStatus(e: AccessLogEntry): number | null {
  if (!isGrpcContentType(e.requestHeaders['content-type'])) return null;
  const raw = e.responseHeaders['grpc-status'];
  const v = raw === undefined ? undefined : typeof raw === 'string' ? raw : raw.join(',');
  if (v !== undefined && v.trim() !== '') return /^\d+$/.test(v.trim()) ? Number(v.trim()) : -1;
  return e.responseCode === 0 ? null : grpcResponseStatus(undefined, e.responseCode);
}

/**
 * Build the extractor of one command operator, or null when meshlet does not know it.
 * Names and meaning: envoy docs `configuration/observability/access_log/usage`.
 */
export function operator(name: string, arg: string | null): OperatorResult {
  const known = basic(name, arg) ?? timeOperator(name, arg);
  if (known !== null) return known;
  for (const [stem, get] of ADDRESSES) {
    const a = arg === null ? address(name, stem, get) : null;
    if (a !== null) return a;
  }
  return tlsOperator(name, arg) ?? more(name, arg);
}

function basic(name: string, arg: string | null): Extractor | null {
  switch (name) {
    case 'REQ':
    case 'REQ_WITHOUT_QUERY':
    case 'RESP': {
      if (arg === null) return null;
      const [main, alt] = headerPair(arg);
      const read =
        name === 'RESP'
          ? (e: AccessLogEntry, h: string) => header(e.responseHeaders, h)
          : (e: AccessLogEntry, h: string) => requestHeader(e, h);
      const get = (e: AccessLogEntry) => read(e, main) ?? (alt === null ? null : read(e, alt));
      return name === 'REQ_WITHOUT_QUERY' ? (e) => withoutQuery(get(e)) : get;
    }
    case 'PROTOCOL':
      return (e) => e.protocol;
    case 'RESPONSE_CODE':
      return (e) => e.responseCode;
    case 'RESPONSE_FLAGS':
      return (e) => (e.responseFlags.length === 0 ? '-' : e.responseFlags.join(','));
    case 'RESPONSE_CODE_DETAILS': {
      // Whitespace becomes `_` unless `ALLOW_WHITESPACES` (stream_info_formatter.cc).
      if (arg !== null && arg !== 'ALLOW_WHITESPACES') return null;
      const keep = arg === 'ALLOW_WHITESPACES';
      return (e) => {
        const d = nullIfEmpty(e.responseCodeDetails);
        return d === null || keep ? d : d.replace(/\s/g, '_');
      };
    }
    case 'CONNECTION_TERMINATION_DETAILS':
      return (e) => nullIfEmpty(e.connectionTerminationDetails);
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON':
      // Spaces become `_` (stream_info_formatter.cc: std::replace ' ' → '_').
      return (e) => nullIfEmpty(e.upstreamTransportFailureReason)?.replace(/ /g, '_') ?? null;
    case 'BYTES_RECEIVED':
      return (e) => e.bytesReceived;
    case 'BYTES_SENT':
      return (e) => e.bytesSent;
    case 'DURATION':
      // Envoy truncates to whole milliseconds.
      return (e) => Math.trunc(e.durationMs);
    case 'UPSTREAM_HOST':
      return (e) => nullIfEmpty(e.upstreamHost);
    case 'UPSTREAM_CLUSTER':
    case 'UPSTREAM_CLUSTER_RAW':
      // Istio sets no alt_stat_name by default, so the two print the same cluster name.
      return (e) => nullIfEmpty(e.upstreamCluster);
    case 'REQUESTED_SERVER_NAME':
      return (e) => nullIfEmpty(e.requestedServerName);
    case 'ROUTE_NAME':
      return (e) => nullIfEmpty(e.routeName);
    case 'UPSTREAM_REQUEST_ATTEMPT_COUNT':
      return (e) => e.attempts ?? 0;
    case 'HOSTNAME': {
      const h = hostname();
      return () => h;
    }
    case 'ENVIRONMENT': {
      if (arg === null) return null;
      // Read once: Envoy resolves ENVIRONMENT when it loads the format.
      const v = nullIfEmpty(process.env[arg]);
      return () => v;
    }
    default:
      return null;
  }
}

function more(name: string, arg: string | null): OperatorResult {
  switch (name) {
    case 'CEL':
      return celOperator(arg);
    case 'FILTER_STATE':
      return filterStateOperator(arg);
    case 'DYNAMIC_METADATA':
    case 'METADATA':
    case 'CLUSTER_METADATA':
    case 'UPSTREAM_METADATA':
      return metadataOperator(name, arg);
    case 'RESPONSE_FLAGS_LONG':
      return (e) => longResponseFlags(e.responseFlags);
    case 'GRPC_STATUS':
    case 'GRPC_STATUS_NUMBER': {
      const style =
        name === 'GRPC_STATUS_NUMBER' ? 'NUMBER' : arg === null || arg === '' ? 'CAMEL_STRING' : arg;
      if (style !== 'CAMEL_STRING' && style !== 'SNAKE_STRING' && style !== 'NUMBER') return null;
      return (e) => {
        const s = grpcStatus(e);
        if (s === null) return null;
        return style === 'NUMBER' ? s : grpcStatusName(s, style);
      };
    }
    case 'CONNECTION_ID':
      return connectionIdOf;
    case 'UPSTREAM_CONNECTION_ID':
      return upstreamConnectionIdOf;
    case 'STREAM_ID':
      // Envoy's stream id is its request id (the UUID extension): the request's x-request-id.
      return (e) => nullIfEmpty(header(e.requestHeaders, 'x-request-id'));
    case 'UNIQUE_ID':
      return () => randomUUID();
    case 'TRACE_ID':
      return (e) => nullIfEmpty(e.traceId);
    case 'UPSTREAM_PROTOCOL':
      return (e) => e.upstreamProtocol ?? null;
    case 'UPSTREAM_HOST_NAME':
      return (e) => nullIfEmpty(e.upstreamHostname ?? e.upstreamHost);
    case 'UPSTREAM_HOST_NAME_WITHOUT_PORT':
      return (e) => {
        const h = nullIfEmpty(e.upstreamHostname ?? e.upstreamHost);
        return h === null ? null : h.replace(/:\d+$/, '');
      };
    case 'ACCESS_LOG_TYPE':
      // A connection manager's log at the end of the stream (AccessLogType DownstreamEnd);
      // istiod configures no periodic or upstream logs.
      return () => 'DownstreamEnd';
    case 'LOCAL_REPLY_BODY':
      return (e) => e.localReplyBody ?? '';
    case 'FILTER_CHAIN_NAME':
      // The listener filter chain's name, unset when it has none (istiod names inbound chains only).
      return (e) => nullIfEmpty(e.xds?.().filterChainName);
    case 'VIRTUAL_CLUSTER_NAME':
      // istiod configures no virtual clusters.
      return () => null;
    case 'DOWNSTREAM_TRANSPORT_FAILURE_REASON':
      // A request that was served had its handshake succeed.
      return () => null;
    case 'REQUEST_HEADERS_BYTES':
      return requestHeadersBytes;
    case 'RESPONSE_HEADERS_BYTES':
      return responseHeadersBytes;
    case 'DOWNSTREAM_WIRE_BYTES_RECEIVED':
      return (e) => e.wire?.downstreamReceived ?? 0;
    case 'DOWNSTREAM_WIRE_BYTES_SENT':
      return (e) => e.wire?.downstreamSent ?? 0;
    case 'DOWNSTREAM_HEADER_BYTES_RECEIVED':
      return (e) => e.wire?.downstreamHeadersReceived ?? 0;
    case 'DOWNSTREAM_HEADER_BYTES_SENT':
      return (e) => e.wire?.downstreamHeadersSent ?? 0;
    default:
      return null;
  }
}
