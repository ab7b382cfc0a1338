import type { PeerMetadata } from '../metadata-exchange/peer-metadata.js';
import type { TlsConnection } from './tls-fields.js';
import type { EntryXds } from './xds-facts.js';

/**
 * When parts of a request happened, in ms after its start (Envoy's downstream and upstream
 * timing, stream_info.h TimingUtility); absent or null = not reached or not known.
 */
export interface AccessLogTiming {
  /** Last byte of the request received from the downstream (`DS_RX_END`). */
  readonly lastDownstreamRx?: number | null;
  /** First byte of the request sent upstream, by the try that answered (`US_TX_BEG`). */
  readonly firstUpstreamTx?: number | null;
  /** Last byte of the request sent upstream (`US_TX_END`). */
  readonly lastUpstreamTx?: number | null;
  /** First byte of the response received from upstream (`US_RX_BEG`). */
  readonly firstUpstreamRx?: number | null;
  /** Last byte of the response received from upstream (`US_RX_END`). */
  readonly lastUpstreamRx?: number | null;
  /** First byte of the response sent downstream (`DS_TX_BEG`). */
  readonly firstDownstreamTx?: number | null;
  /** Last byte of the response sent downstream (`DS_TX_END`). */
  readonly lastDownstreamTx?: number | null;
}

/** An endpoint's locality (`upstream.locality`, envoy config.core.v3.Locality). */
export interface EntryLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/**
 * One finished request as the access log sees it: what Envoy's command operators read
 * (envoy `source/common/formatter/stream_info_formatter.cc`). Null = unset (`-`).
 */
export interface AccessLogEntry {
  /** Start of the request, epoch ms (`%START_TIME%`). */
  readonly startTime: number;
  /** `:method`; null for a TCP connection (Envoy prints `-`). */
  readonly method: string | null;
  /** `:path` as received, query included; null for a TCP connection. */
  readonly path: string | null;
  /** `:authority` (Host). */
  readonly authority: string | null;
  /** `:scheme`. */
  readonly scheme?: string | null;
  /** `%PROTOCOL%`: `HTTP/1.1`, `HTTP/2`. */
  readonly protocol: string | null;
  /** 0 when no response was sent. */
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  /** `%RESPONSE_CODE_DETAILS%`, e.g. `via_upstream`, `upstream_reset_before_response_started{overflow}`. */
  readonly responseCodeDetails: string | null;
  readonly connectionTerminationDetails: string | null;
  readonly upstreamTransportFailureReason: string | null;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Total duration in ms (`%DURATION%`). */
  readonly durationMs: number;
  /** Request headers, lower-case keys. */
  readonly requestHeaders: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Response headers, lower-case keys (`%RESP(...)%`, e.g. `x-envoy-upstream-service-time`). */
  readonly responseHeaders: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** `ip:port` of the upstream endpoint. */
  readonly upstreamHost: string | null;
  /** `outbound|9080|v1|reviews.default.svc.cluster.local` / `inbound|9080||`. */
  readonly upstreamCluster: string | null;
  readonly upstreamLocalAddress: string | null;
  readonly downstreamLocalAddress: string | null;
  readonly downstreamRemoteAddress: string | null;
  readonly requestedServerName: string | null;
  /** `%ROUTE_NAME%`: the matched route's name, `default` for Istio's default route. */
  readonly routeName: string | null;
  /** `%UPSTREAM_REQUEST_ATTEMPT_COUNT%`. */
  readonly attempts?: number;
  /**
   * The listener's direction: `INBOUND` on the server, `OUTBOUND` for `mesh.fetch`
   * (istiod's listener `traffic_direction`, CEL `xds.listener_direction`).
   */
  readonly direction?: 'INBOUND' | 'OUTBOUND';
  /**
   * The downstream connection's TLS (inbound mTLS): the socket itself, read only when an
   * operator or attribute asks (`%DOWNSTREAM_PEER_URI_SAN%`, `connection.tls_version`...).
   */
  readonly downstreamTls?: TlsConnection | null;
  /**
   * The upstream connection's TLS (the answering try's socket when it is a TLS one), read
   * only when an operator or attribute asks (`%UPSTREAM_PEER_URI_SAN%`, `upstream.tls_version`...).
   */
  readonly upstreamTls?: TlsConnection | null;
  /** The upstream connection (an object per connection) for `%UPSTREAM_CONNECTION_ID%`. */
  readonly upstreamConnection?: object | null;
  /** The downstream connection (an object per connection) for `%CONNECTION_ID%`. */
  readonly connection?: object | null;
  /** `%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%`: the connection's peer, whatever X-Forwarded-For says. */
  readonly downstreamDirectRemoteAddress?: string | null;
  /** `%REQUEST_HEADERS_BYTES%`: the request header map's byte size (names + values). */
  readonly requestHeadersBytes?: number;
  /** `%RESPONSE_HEADERS_BYTES%`: the response header map's byte size (names + values). */
  readonly responseHeadersBytes?: number;
  /** `%UPSTREAM_PROTOCOL%`: `HTTP/1.1`, `HTTP/2`; null without an upstream request. */
  readonly upstreamProtocol?: string | null;
  readonly timing?: AccessLogTiming;
  /** The active span's trace id (`%TRACE_ID%`), null when tracing is off. */
  readonly traceId?: string | null;
  /** The active span's id, with `traceId` (an OpenTelemetry access log's `span_id`). */
  readonly spanId?: string | null;
  /** `%LOCAL_REPLY_BODY%`: the body of a reply the proxy itself sent; '' otherwise. */
  readonly localReplyBody?: string;
  /** The peer's metadata exchange, inbound (`downstream_peer` filter state). */
  readonly downstreamPeer?: PeerMetadata | null;
  /** The upstream's metadata exchange, outbound (`upstream_peer` filter state). */
  readonly upstreamPeer?: PeerMetadata | null;
  /** `%UPSTREAM_REMOTE_ADDRESS%`: the peer of the upstream connection; absent = `upstreamHost`. */
  readonly upstreamRemoteAddress?: string | null;
  /** The upstream host's name when it has one (a DNS endpoint), `%UPSTREAM_HOST_NAME%`. */
  readonly upstreamHostname?: string | null;
  /** The downstream bytes meter (`%DOWNSTREAM_WIRE_BYTES_*%`, `%DOWNSTREAM_HEADER_BYTES_*%`). */
  readonly wire?: {
    readonly downstreamReceived: number;
    readonly downstreamSent: number;
    readonly downstreamHeadersReceived: number;
    readonly downstreamHeadersSent: number;
  };
  /** Dynamic metadata by filter namespace (`%DYNAMIC_METADATA(...)%`), as far as meshlet fills it. */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>> | null;
  /** The locality of the endpoint that answered (`upstream.locality`). */
  readonly upstreamLocality?: EntryLocality | null;
  /**
   * The node, listener, virtual host, route, cluster and host the request went through
   * (`xds.*`, `%METADATA(ROUTE|CLUSTER|UPSTREAM_HOST...)%`), worked out on the first read.
   */
  readonly xds?: () => EntryXds;
}
