import type { AccessLogEntry } from '../access-log/entry.js';
import type { EntryXds, XdsMetadata } from '../access-log/xds-facts.js';
import { connectionIdOf, requestHeadersBytes, responseHeadersBytes } from '../access-log/entry-facts.js';
import { tlsFactsOf, type TlsConnection } from '../access-log/tls-fields.js';
import { grpcResponseStatus } from '../metrics/grpc-status.js';
import { portOf, queryOf, urlPathOf } from './address.js';
import { HeaderMap, type Activation, type PseudoHeaders } from './attributes.js';
import { responseFlagBits } from './response-flags.js';
import { durationOfMs, timestampOfMs } from './time.js';
import { CelUint, LiteralMap, type CelValue } from './values.js';

const orUndefined = <T>(v: T | null | undefined): T | undefined => v ?? undefined;

function header(h: AccessLogEntry['requestHeaders'], name: string): string | undefined {
  const v = h[name];
  return v === undefined || typeof v === 'string' ? v : v.join(',');
}

const REQUEST_PSEUDO = [':method', ':path', ':authority', ':scheme'];

function requestPseudo(e: AccessLogEntry): PseudoHeaders {
  return {
    names: REQUEST_PSEUDO,
    get(name) {
      if (name === ':method') return e.method;
      if (name === ':path') return e.path;
      return name === ':authority' ? e.authority : e.scheme;
    },
  };
}

function requestField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'path':
      return orUndefined(e.path);
    case 'url_path':
      return e.path === null ? undefined : urlPathOf(e.path);
    case 'host':
      return orUndefined(e.authority);
    case 'scheme':
      return orUndefined(e.scheme);
    case 'method':
      return orUndefined(e.method);
    case 'headers':
      return new HeaderMap(e.requestHeaders, requestPseudo(e));
    case 'referer':
      return header(e.requestHeaders, 'referer');
    case 'useragent':
      return header(e.requestHeaders, 'user-agent');
    case 'id':
      return header(e.requestHeaders, 'x-request-id');
    case 'query':
      return e.path === null ? undefined : queryOf(e.path);
    case 'time':
      return timestampOfMs(e.startTime);
    case 'duration':
      return durationOfMs(e.durationMs);
    case 'protocol':
      return orUndefined(e.protocol);
    case 'headers_bytes':
      // context.cc HeadersBytes: the header map's byteSize, an int.
      return BigInt(requestHeadersBytes(e));
    case 'total_size':
      return BigInt(e.bytesReceived + requestHeadersBytes(e));
    case 'size': {
      // context.cc Size: the Content-Length when sent (missing when malformed), else body bytes.
      const cl = header(e.requestHeaders, 'content-length');
      if (cl === undefined) return BigInt(e.bytesReceived);
      return /^\d+$/.test(cl) ? BigInt(cl) : undefined;
    }
    default:
      return undefined;
  }
}

function responseField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'code':
      return e.responseCode === 0 ? undefined : BigInt(e.responseCode);
    case 'code_details':
      return orUndefined(e.responseCodeDetails);
    case 'flags':
      return responseFlagBits(e.responseFlags);
    case 'grpc_status': {
      const s = grpcResponseStatus(e.responseHeaders['grpc-status'], e.responseCode);
      return s === null ? undefined : BigInt(s);
    }
    case 'headers':
      return new HeaderMap(e.responseHeaders, {
        names: [':status'],
        get: () => (e.responseCode === 0 ? null : String(e.responseCode)),
      });
    case 'size':
      return BigInt(e.bytesSent);
    case 'headers_bytes':
      return BigInt(responseHeadersBytes(e));
    case 'total_size':
      return BigInt(e.bytesSent + responseHeadersBytes(e));
    case 'backend_latency': {
      // context.cc BackendLatency: last byte from upstream - first byte sent upstream.
      const sent = e.timing?.firstUpstreamTx;
      const received = e.timing?.lastUpstreamRx;
      if (sent === null || sent === undefined || received === null || received === undefined)
        return undefined;
      return durationOfMs(received - sent);
    }
    default:
      return undefined;
  }
}

/**
 * `connection.*` (context.cc ConnectionLookupValues, then the SSL extractors when the
 * downstream connection is TLS): `mtls` only with a peer certificate; a SAN attribute is
 * the first SAN, missing when there is none; subjects are present even when empty.
 */
function connectionField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'requested_server_name':
      return e.requestedServerName ?? '';
    case 'termination_details':
      return orUndefined(e.connectionTerminationDetails);
    case 'transport_failure_reason':
      // A request was served: its connection's handshake did not fail.
      return undefined;
    case 'id': {
      const id = connectionIdOf(e);
      return id === 0 ? undefined : new CelUint(BigInt(id));
    }
    case 'mtls': {
      const tls = e.downstreamTls;
      return tls !== null && tls !== undefined && tlsFactsOf(tls).peer !== null;
    }
    default:
      return sslField(e.downstreamTls, name);
  }
}

/**
 * The SSL extractors `connection.*` and `upstream.*` share (context.cc extractSslInfo),
 * read from the downstream or the upstream connection; missing without TLS.
 */
function sslField(tls: TlsConnection | null | undefined, name: string): CelValue | undefined {
  if (tls === null || tls === undefined) return undefined;
  const f = tlsFactsOf(tls);
  switch (name) {
    case 'tls_version':
      return f.tlsVersion ?? '';
    case 'subject_local_certificate':
      return f.local?.subject ?? '';
    case 'subject_peer_certificate':
      return f.peer?.subject ?? '';
    case 'uri_san_local_certificate':
      return f.local?.uriSans[0];
    case 'uri_san_peer_certificate':
      return f.peer?.uriSans[0];
    case 'dns_san_local_certificate':
      return f.local?.dnsSans[0];
    case 'dns_san_peer_certificate':
      return f.peer?.dnsSans[0];
    case 'sha256_peer_certificate_digest':
      return f.peer === null || f.peer.sha256 === '' ? undefined : f.peer.sha256;
    case 'peer_certificate':
      return f.peer?.urlEncodedPem;
    default:
      return undefined;
  }
}

/** `upstream.locality`: an envoy.config.core.v3.Locality message (unset fields read ''). */
function localityOf(e: AccessLogEntry): CelValue | undefined {
  if (e.upstreamHost === null) return undefined;
  const l = e.upstreamLocality;
  const m = new LiteralMap();
  m.set('region', l?.region ?? '');
  m.set('zone', l?.zone ?? '');
  m.set('sub_zone', l?.subZone ?? '');
  return m;
}

/**
 * A protobuf Struct value as CEL reads it (cel-cpp's Value conversion): numbers are
 * doubles, structs maps, lists lists.
 */
function structValue(v: unknown): CelValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(structValue);
  const m = new LiteralMap();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, structValue(x));
  return m;
}

/** An envoy.config.core.v3.Metadata message: `filter_metadata`, a map of Structs. */
function metadataMessage(md: XdsMetadata | null | undefined): CelValue | undefined {
  if (md === null || md === undefined) return undefined;
  const m = new LiteralMap();
  m.set('filter_metadata', structValue(md));
  return m;
}

/** `xds.node`: an envoy.config.core.v3.Node message. */
function nodeMessage(x: EntryXds): CelValue {
  const n = x.node;
  const locality = new LiteralMap();
  locality.set('region', n.locality.region);
  locality.set('zone', n.locality.zone);
  locality.set('sub_zone', n.locality.subZone);
  const m = new LiteralMap();
  m.set('id', n.id);
  m.set('cluster', n.cluster);
  m.set('metadata', structValue(n.metadata));
  m.set('locality', locality);
  m.set('user_agent_name', n.userAgentName);
  return m;
}

/** `xds.*` (context.cc XDSLookupValues) from the entry's xDS facts. */
function xdsField(e: AccessLogEntry, name: string): CelValue | undefined {
  switch (name) {
    case 'cluster_name':
      return orUndefined(e.upstreamCluster);
    case 'route_name':
      return orUndefined(e.routeName);
    case 'listener_direction':
      return listenerDirection(e);
    default:
      break;
  }
  const x = e.xds?.();
  if (x === undefined) return undefined;
  switch (name) {
    case 'node':
      return nodeMessage(x);
    case 'cluster_metadata':
      return metadataMessage(x.clusterMetadata);
    case 'route_metadata':
      return metadataMessage(x.routeMetadata);
    case 'virtual_host_name':
      return orUndefined(x.virtualHostName);
    case 'virtual_host_metadata':
      return metadataMessage(x.virtualHostMetadata);
    case 'upstream_host_metadata':
      return metadataMessage(x.upstreamHostMetadata);
    case 'upstream_host_locality_metadata':
      // istiod writes no locality metadata: an empty message when there is a host.
      return x.upstreamHostMetadata === null ? undefined : metadataMessage({});
    case 'filter_chain_name':
      return x.filterChainName;
    case 'listener_metadata':
      return metadataMessage(x.listenerMetadata);
    default:
      return undefined;
  }
}

/** `metadata.filter_metadata`: the namespaces meshlet fills, each a Struct. */
function filterMetadata(e: AccessLogEntry): CelValue {
  const m = new LiteralMap();
  for (const [ns, v] of Object.entries(e.dynamicMetadata ?? {})) m.set(ns, structValue(v));
  return m;
}

/** xds.listener_direction: envoy.config.core.v3.TrafficDirection as an int (INBOUND 1, OUTBOUND 2). */
function listenerDirection(e: AccessLogEntry): CelValue | undefined {
  if (e.direction === undefined) return undefined;
  return e.direction === 'INBOUND' ? 1n : 2n;
}

function field(e: AccessLogEntry, root: string, name: string): CelValue | undefined {
  switch (root) {
    case 'request':
      return requestField(e, name);
    case 'response':
      return responseField(e, name);
    case 'connection':
      return connectionField(e, name);
    case 'upstream':
      switch (name) {
        case 'address':
          return orUndefined(e.upstreamHost);
        case 'port':
          return portOf(e.upstreamHost);
        case 'local_address':
          return orUndefined(e.upstreamLocalAddress);
        case 'transport_failure_reason':
          return e.upstreamHost === null ? undefined : (e.upstreamTransportFailureReason ?? '');
        case 'request_attempt_count':
          return new CelUint(BigInt(e.attempts ?? 0));
        case 'locality':
          return localityOf(e);
        case 'num_endpoints': {
          // context.cc UpstreamNumEndpoints: the cluster's membership_total, a uint.
          const n = e.upstreamCluster === null ? null : (e.xds?.().numEndpoints ?? null);
          return n === null ? undefined : new CelUint(BigInt(n));
        }
        default:
          // context.cc UpstreamWrapper: the upstream connection's SSL info.
          return sslField(e.upstreamTls, name);
      }
    case 'source':
      if (name === 'address') return orUndefined(e.downstreamRemoteAddress);
      return name === 'port' ? portOf(e.downstreamRemoteAddress) : undefined;
    case 'destination':
      if (name === 'address') return orUndefined(e.downstreamLocalAddress);
      return name === 'port' ? portOf(e.downstreamLocalAddress) : undefined;
    case 'metadata':
      return name === 'filter_metadata' ? filterMetadata(e) : undefined;
    case 'xds':
      return xdsField(e, name);
    default:
      return undefined;
  }
}

/** The attributes of one access-log entry, each computed only when an expression reads it. */
export function entryActivation(entry: AccessLogEntry): Activation {
  return { field: (root, name) => field(entry, root, name) };
}
