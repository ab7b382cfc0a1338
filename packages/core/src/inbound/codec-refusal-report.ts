import type { AccessLogEntry } from '../telemetry/access-log/entry.js';
import { tlsConnectionOf } from '../telemetry/access-log/tls-fields.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import type { DestinationService } from '../telemetry/metrics/metric-event.js';
import { canonicalService, peerFromIdentity, UNKNOWN, UNKNOWN_PEER } from '../telemetry/peer-labels.js';
import { hostPort } from '../outbound/upstream/host-state.js';
import type { PeerIdentity } from './request-context.js';

const DPE: readonly string[] = Object.freeze(['DPE']);
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The request line and headers the connection manager had when it refused them. */
export interface RefusedHeaders {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** `%PROTOCOL%`: `HTTP/1.0`, `HTTP/1.1`. */
  readonly protocol: string;
  /** Lower-case names, as received. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * A request the codec refused, or the connection manager before routing it, with what its
 * connection and reply tell of it.
 */
export interface RefusedRequest {
  /** The reply's status, `%RESPONSE_CODE_DETAILS%` and body (server/codec-refusal.ts). */
  readonly refusal: { readonly status: number; readonly details: string; readonly body: string };
  /** Response flags: `DPE` for the codec's; none for the connection manager's. Default `DPE`. */
  readonly flags?: readonly string[];
  /** What the connection manager had of the request; absent for the codec's (no headers). */
  readonly request?: RefusedHeaders;
  /** The connection's verified mTLS peer, or null. */
  readonly peer: PeerIdentity | null;
  /** The local port the request came in on. */
  readonly port: number;
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly destinationIp: string;
  readonly sni: string | null;
  /** The connection, for `%CONNECTION_ID%` and the TLS operators. */
  readonly connection: object | null;
  /** Epoch ms (`%START_TIME%`). */
  readonly startEpoch: number;
  readonly durationMs: number;
  /** The bytes read of the request (Envoy's downstream wire bytes received). */
  readonly requestBytes: number;
  /** The reply's status line and header block, and its body, in bytes. */
  readonly replyHeaderBytes: number;
  readonly replyBodyBytes: number;
  /** The reply's headers, lower-case names (`%RESP(...)%`). */
  readonly replyHeaders: Readonly<Record<string, string>>;
}

/**
 * `destination_service*` of a request no route took: the server's stats filter finds no
 * upstream cluster and, with the Host header fallback off, names the workload's canonical
 * service, bare, in its namespace (istio/proxy istio_stats.cc populatePeerInfo, the server
 * sidecar branch).
 */
function unroutedService(t: MeshTelemetry): DestinationService {
  const w = t.workload;
  const name = canonicalService(w.labels, w.name);
  return { host: name, name, namespace: w.namespace };
}

/** A gateway's stats filter knows no destination for it: no cluster, no host fallback. */
const UNKNOWN_SERVICE: DestinationService = Object.freeze({
  host: UNKNOWN,
  name: UNKNOWN,
  namespace: UNKNOWN,
});

/**
 * Reports a request Envoy's HTTP/1 codec refused (server/codec-refusal.ts), or its connection
 * manager refused before routing (HTTP/1.0, a path it cannot take), as Istio's proxy does. The codec error's local reply creates the stream's filter chain
 * (conn_manager_impl.cc createFilterChain, "called early via sendLocalReply"), so the stats
 * filter and the access log see it: one `istio_requests_total` with the reply's code and flag
 * `DPE`, no route, no upstream cluster and no peer metadata (the exchange filter never saw
 * headers), and no span (tracing starts when the headers are decoded). A sidecar reports it
 * with reporter `destination`, `destination_service` its bare canonical service; a gateway,
 * which measures on its outbound side, with reporter `source`, its own labels as the source and
 * nothing known of the destination (istio_stats.cc populatePeerInfo, client branch, the Host
 * fallback off for gateways), in its client access log.
 */
export function reportCodecRefusal(t: MeshTelemetry, r: RefusedRequest, gateway = false): void {
  try {
    const status = r.refusal.status;
    const responseBytes = r.replyHeaderBytes + r.replyBodyBytes;
    if (t.metrics.enabled) {
      t.metrics.record({
        reporter: gateway ? 'source' : 'destination',
        source: gateway ? t.metrics.local : peerFromIdentity(r.peer),
        destination: gateway ? UNKNOWN_PEER : t.metrics.local,
        destinationService: gateway ? UNKNOWN_SERVICE : unroutedService(t),
        port: r.port,
        protocol: 'http',
        status,
        flags: r.flags ?? DPE,
        mtls: !gateway && r.peer !== null,
        durationMs: r.durationMs,
        requestBytes: r.requestBytes,
        responseBytes,
        headers: r.request?.headers ?? NO_HEADERS,
        ...(r.request === undefined ? {} : { method: r.request.method, path: r.request.path }),
        entry: () => entryOf(r, gateway),
      });
    }
    const log = gateway ? t.accessLog.client : t.accessLog.server;
    if (log.enabled) log.log(entryOf(r, gateway));
  } catch {
    // Telemetry never throws into the server.
  }
}

function entryOf(r: RefusedRequest, gateway: boolean): AccessLogEntry {
  const q = r.request;
  const local = r.destinationIp === '' ? null : hostPort(r.destinationIp, r.port);
  const remote = r.sourceIp === '' ? null : hostPort(r.sourceIp, r.sourcePort);
  return {
    // A gateway's listeners are outbound ones (istiod's traffic_direction).
    direction: gateway ? 'OUTBOUND' : 'INBOUND',
    startTime: Math.round(r.startEpoch),
    // The codec hands over no headers (every request operator `-`); the connection
    // manager's refusals had the request line and headers.
    method: q?.method ?? null,
    path: q?.path ?? null,
    authority: q === undefined || q.authority === '' ? null : q.authority,
    protocol: q?.protocol ?? 'HTTP/1.1',
    upstreamProtocol: null,
    connection: r.connection,
    downstreamTls: tlsConnectionOf(r.connection),
    downstreamDirectRemoteAddress: remote,
    localReplyBody: r.refusal.body,
    wire: {
      downstreamReceived: r.requestBytes,
      downstreamSent: r.replyHeaderBytes + r.replyBodyBytes,
      downstreamHeadersReceived: r.requestBytes,
      downstreamHeadersSent: r.replyHeaderBytes,
    },
    timing: { firstDownstreamTx: r.durationMs, lastDownstreamTx: r.durationMs },
    responseCode: r.refusal.status,
    responseFlags: r.flags ?? DPE,
    responseCodeDetails: r.refusal.details,
    connectionTerminationDetails: null,
    upstreamTransportFailureReason: null,
    bytesReceived: 0,
    bytesSent: r.replyBodyBytes,
    durationMs: Math.round(r.durationMs),
    requestHeaders: q?.headers ?? NO_HEADERS,
    responseHeaders: r.replyHeaders,
    upstreamHost: null,
    upstreamCluster: null,
    upstreamLocalAddress: null,
    downstreamLocalAddress: local,
    downstreamRemoteAddress: remote,
    requestedServerName: r.sni,
    routeName: null,
  };
}
