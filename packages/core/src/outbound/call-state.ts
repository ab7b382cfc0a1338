import type { CompiledRoute, Endpoint, RouteRequest } from '../compile/plan-types.js';
import type { MeshletInfo, ResponseFlag } from './meshlet-info.js';
import type { TryResult } from './attempt.js';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import type { HeaderRecord } from './request-input.js';

/** What the router reports to a call's telemetry (`outbound/call-observer.ts`). */
export interface CallObserver {
  /** One try ended (a span event on the CLIENT span when it records). */
  attempt(attempt: number, result: TryResult, durationMs: number): void;
  /** Routing matched `route` for `request`; `headers` is the request the router will send. */
  routed(route: CompiledRoute, request: RouteRequest, headers: HeaderRecord): void;
}

/** What the pipeline learns about one call while it runs; frozen into `res.meshlet` at the end. */
export interface CallState {
  flags: ResponseFlag[];
  attempts: number;
  upstream: MeshletInfo['upstream'];
  route: string | null;
  /** The matched route and the request it matched, for Envoy's `%ROUTE_NAME%` (read only when logging). */
  matchedRoute: CompiledRoute | null;
  matchedRequest: RouteRequest | null;
  retriesDisabled: string | null;
  /** A local reply's `%RESPONSE_CODE_DETAILS%` and `%UPSTREAM_TRANSPORT_FAILURE_REASON%`, when it set them. */
  details: string | null;
  transportFailureReason: string | null;
  /** The local address of the connection the answering try used (`%UPSTREAM_LOCAL_ADDRESS%`), when the transport told it. */
  upstreamLocalAddress: string | null;
  /** The connection (socket) the answering try used, when the transport handed it over; never read on the hot path. */
  upstreamConnection: object | null;
  /** The cluster routing chose (`outbound|9080|v1|reviews...`, `PassthroughCluster`), set even for a local reply. */
  cluster: string | null;
  /** The service host of that cluster, when it has one. */
  service: string | null;
  /** The endpoint that answered, for telemetry's destination labels. */
  endpoint: Endpoint | null;
  /** What the upstream's metadata-exchange headers said about it, when it sent them. */
  upstreamPeer: PeerMetadata | null;
  /**
   * The application's own TLS carried by a tcp_proxy (an https call the mesh does not
   * originate TLS for, app-tls-call.ts): the connection reports `istio_tcp_*`; no HTTP
   * metric or access log line is written for the request, which no sidecar would see.
   */
  viaTcpProxy: boolean;
  /** Telemetry for this call; null when the client has none (then nothing is built). */
  readonly observer: CallObserver | null;
}

export function newCallState(observer: CallObserver | null = null): CallState {
  return {
    flags: [],
    attempts: 0,
    upstream: null,
    route: null,
    matchedRoute: null,
    matchedRequest: null,
    retriesDisabled: null,
    details: null,
    transportFailureReason: null,
    upstreamLocalAddress: null,
    upstreamConnection: null,
    cluster: null,
    service: null,
    endpoint: null,
    upstreamPeer: null,
    viaTcpProxy: false,
    observer,
  };
}

export function toMeshletInfo(s: CallState): MeshletInfo {
  return Object.freeze({
    flags: Object.freeze(s.flags),
    attempts: s.attempts,
    upstream: s.upstream === null ? null : Object.freeze(s.upstream),
    route: s.route,
    retriesDisabled: s.retriesDisabled,
  });
}
