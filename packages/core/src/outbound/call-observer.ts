import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { CompiledRoute, Endpoint, MeshPlan, RouteRequest } from '../compile/plan-types.js';
import { operationOf } from '../compile/route-operation.js';
import type { AccessLogEntry, EntryLocality } from '../telemetry/access-log/entry.js';
import { traceIdsOf } from '../telemetry/access-log/entry-facts.js';
import { tlsConnectionOf } from '../telemetry/access-log/tls-fields.js';
import { endpointWorkloadName } from '../telemetry/endpoint-workload.js';
import { once } from '../telemetry/access-log/xds-facts.js';
import { outboundXds } from '../telemetry/access-log/xds-outbound.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import {
  BLACKHOLE_CLUSTER,
  destinationServiceOf,
  PASSTHROUGH_CLUSTER,
  requestProtocolOf,
} from '../telemetry/metrics/destination-service.js';
import { grpcResponseStatus } from '../telemetry/metrics/grpc-status.js';
import type { DestinationService, MetricEvent } from '../telemetry/metrics/metric-event.js';
import {
  peerFromEndpoint,
  peerWithMetadata,
  UNKNOWN_PEER,
  type PeerLabels,
} from '../telemetry/peer-labels.js';
import type { PeerMetadata } from '../telemetry/metadata-exchange/peer-metadata.js';
import type { ClientSpan } from '../telemetry/tracing/mesh-tracing.js';
import { DECORATOR_OPERATION_HEADER } from '../telemetry/tracing/client-span.js';
import { isIstioMutual } from '../telemetry/metrics/upstream-mtls.js';
import { countPushedBytes, headerBlockBytes, type ByteCount } from '../telemetry/wire-bytes.js';
import type { CallObserver, CallState } from './call-state.js';
import type { ResponseFlag } from './meshlet-info.js';
import type { HeaderRecord, Target } from './request-input.js';
import type { TryResult } from './attempt.js';
import { transportFailureFlag } from './local-reply.js';
import { isResponseTimeout } from './timeouts.js';
import { addFlag } from './flags.js';
import { wallClockMs } from '../runtime/wall-clock.js';
import { watchConnection } from '../telemetry/connection-watch.js';
import type { UpgradedConnection } from './transport.js';

/** Envoy's `%RESPONSE_CODE_DETAILS%` for the local replies meshlet's router sends. */
const DETAILS: Readonly<Partial<Record<ResponseFlag, string>>> = {
  NR: 'route_not_found',
  NC: 'cluster_not_found',
  UH: 'no_healthy_upstream',
  UO: 'upstream_reset_before_response_started{overflow}',
  UT: 'upstream_response_timeout',
  FI: 'fault_filter_abort',
  DC: 'downstream_remote_disconnect',
};

function detailsOf(state: CallState): string {
  // Local replies set `details`, and so does an upstream response cut short (cutShort).
  if (state.details !== null) return state.details;
  if (state.upstream !== null) return 'via_upstream';
  for (const f of state.flags) {
    const d = DETAILS[f];
    if (d !== undefined) return d;
  }
  return 'direct_response';
}

const MAX_CACHED = 4096;

/**
 * The state a streamed upstream body reports with when it closed before its end: the
 * route timeout fired (`UT`, `upstream_response_timeout`: router.cc onResponseTimeout), the
 * upstream reset it (`UC`, Envoy's `upstream_reset_after_response_started{connection_termination}`),
 * or the application destroyed it (`DC`, the downstream went away), as Envoy's router and
 * connection manager flag a stream reset after the response started.
 */
function cutShort(state: CallState, body: Readable): CallState {
  if (body.readableEnded) return state;
  if (isResponseTimeout(body.errored)) {
    const flags = [...state.flags];
    addFlag(flags, 'UT');
    return { ...state, flags, details: 'upstream_response_timeout' };
  }
  if (body.errored !== null)
    return {
      ...state,
      flags: [...state.flags, 'UC'],
      details: 'upstream_reset_after_response_started{connection_termination}',
    };
  return { ...state, flags: [...state.flags, 'DC'] };
}

/**
 * Calls `done` when the body has ended or closed (read to the end, destroyed, or
 * failed: streams auto-destroy, so an error is followed by `close`). Plain `on`
 * listeners, no `once` wrappers; `done` must tolerate a second call.
 */
function onBodyDone(body: Readable, done: () => void): void {
  if (body.destroyed || body.readableEnded) {
    done();
    return;
  }
  body.on('end', done);
  body.on('close', done);
}

/**
 * Turns the telemetry bundle into per-call reporting for the outbound client, with the
 * label objects (destination peer per endpoint, `destination_service*` per host)
 * prepared once and reused, so steady traffic between the same pair builds no label
 * set (reporter `source`, istio_stats.cc).
 */
export class OutboundTelemetry {
  readonly #t: MeshTelemetry;
  readonly #peers = new WeakMap<Endpoint, PeerLabels>();
  readonly #services = new Map<string, DestinationService>();

  constructor(telemetry: MeshTelemetry) {
    this.#t = telemetry;
  }

  /** Starts a call: the CLIENT span (trace headers and `x-request-id` go into `headers`) and the clock. */
  start(target: Target, method: string, headers: HeaderRecord, body: Buffer | Readable | null): OutboundCall {
    return new OutboundCall(this, this.#t, target, method, headers, body);
  }

  /**
   * The `destination_*` labels: from the upstream's metadata exchange when it answered with
   * it (Istio's first discovery method), else from the endpoint's registry entry.
   */
  peerOf(
    endpoint: Endpoint | null,
    plan: MeshPlan,
    host: string | null,
    exchanged: PeerMetadata | null,
  ): PeerLabels {
    const base = this.#endpointPeer(endpoint, plan, host);
    return exchanged === null ? base : peerWithMetadata(base, exchanged);
  }

  #endpointPeer(endpoint: Endpoint | null, plan: MeshPlan, host: string | null): PeerLabels {
    if (endpoint === null) return UNKNOWN_PEER;
    let p = this.#peers.get(endpoint);
    if (p === undefined) {
      const svc = host === null ? undefined : plan.outbound.services[host];
      p = peerFromEndpoint(
        endpoint,
        svc?.namespace ?? '',
        { trustDomain: this.#t.trustDomain, cluster: this.#t.cluster },
        endpointWorkloadName(endpoint, svc),
      );
      this.#peers.set(endpoint, p);
    }
    return p;
  }

  serviceOf(state: CallState, plan: MeshPlan, authority: string): DestinationService {
    const special =
      state.cluster === PASSTHROUGH_CLUSTER || state.cluster === BLACKHOLE_CLUSTER ? state.cluster : null;
    const host = state.service ?? authority;
    const key = special === null ? host : `${special}|${host}`;
    let s = this.#services.get(key);
    if (s === undefined) {
      const ns = plan.outbound.services[host]?.namespace;
      s =
        special !== null
          ? destinationServiceOf(host, { name: special, ...(ns === undefined ? {} : { namespace: ns }) })
          : destinationServiceOf(host, ns === undefined ? {} : { namespace: ns });
      if (this.#services.size >= MAX_CACHED) this.#services.clear();
      this.#services.set(key, s);
    }
    return s;
  }
}

/**
 * For an access log only, kept beside the call so a call without one carries nothing: when
 * the response arrived (ms after the start) and a local reply's body.
 */
const LOGGED = new WeakMap<
  object,
  { readonly firstByteMs: number | null; readonly localBody: Buffer | null }
>();

/** One outbound call's telemetry, from start to the end of its response body. */
export class OutboundCall implements CallObserver {
  readonly #owner: OutboundTelemetry;
  readonly #t: MeshTelemetry;
  readonly #target: Target;
  readonly #method: string;
  readonly #headers: HeaderRecord;
  readonly #startMs: number;
  readonly #startEpoch: number;
  readonly #span: ClientSpan;
  #requestBody: ByteCount | number;
  /** Request line and headers as the application gave them. */
  readonly #requestHeadBytes: number;
  #done = false;
  /** Whether the last try that got a response used ISTIO_MUTUAL. */
  #istioMutual = false;
  /**
   * The host the last try went to, answered or not: Envoy's router records it on pool
   * ready and on pool failure (upstream_request.cc), so a UF, UC or UT line names it.
   */
  #lastHost: string | null = null;
  /** The upstream's non-empty `x-envoy-decorator-operation` answer, taken off its response. */
  #answered: string | null = null;
  /** The matched route's operation, when `routed` was told the route; undefined before. */
  #operation: string | null | undefined = undefined;
  /**
   * When the try that got a response began, ms after the start (its first byte sent
   * upstream, `US_TX_BEG`); noted only for an access log that reads timing.
   */
  #tryStartMs: number | null = null;

  constructor(
    owner: OutboundTelemetry,
    t: MeshTelemetry,
    target: Target,
    method: string,
    headers: HeaderRecord,
    body: Buffer | Readable | null,
  ) {
    this.#owner = owner;
    this.#t = t;
    this.#target = target;
    this.#method = method;
    this.#headers = headers;
    this.#startMs = t.clock.now();
    this.#startEpoch = wallClockMs();
    // Istio's istio_request_bytes on the client is the downstream wire bytes: the request as
    // the application sent it to its sidecar (istio_stats.cc getDownstreamBytesMeter), so
    // measured before the span's trace headers and the pipeline's own headers are added.
    // An HTTP/1.1 request always carries its Host, which the transport adds when the caller did not.
    this.#requestHeadBytes =
      method.length +
      target.path.length +
      12 +
      headerBlockBytes(headers) +
      (headers['host'] === undefined ? target.authority.length + 8 : 0);
    this.#span = t.tracing.startClientSpan({ method, url: target.url.href, headers });
    this.#requestBody = body === null ? 0 : Buffer.isBuffer(body) ? body.length : countPushedBytes(body);
  }

  /**
   * Routing matched `route` for `request`: its decorator operation names the CLIENT span
   * and, when tracing is on, goes upstream in `x-envoy-decorator-operation` (written into
   * `headers`, the request the router sends), as Envoy's egress connection manager does
   * once it has the route (conn_manager_impl.cc traceRequest). Nothing when tracing is off.
   */
  routed(route: CompiledRoute, request: RouteRequest, headers: HeaderRecord): void {
    if (this.#span.span === null) return;
    const operation = operationOf(route, request);
    this.#operation = operation;
    if (operation !== null) this.#span.decorate(operation, headers);
  }

  attempt(attempt: number, r: TryResult, durationMs: number): void {
    if (r.kind === 'response') {
      this.#istioMutual = isIstioMutual(r.tls);
      // For `response.backend_latency`, when a log line or a metric tag reads it.
      if (this.#t.accessLog.client.needsTiming === true || this.#t.metrics.readsTiming === true)
        this.#tryStartMs = this.#t.clock.now() - this.#startMs - durationMs;
    }
    if (r.kind === 'response' || r.kind === 'failure') this.#lastHost = r.host.id;
    const span = this.#span.span;
    if (span === null || !span.isRecording()) return;
    if (r.kind === 'response') {
      this.#span.attempt({ attempt, upstreamAddress: r.host.id, status: r.response.status, durationMs });
    } else if (r.kind === 'failure') {
      const f = r.outcome.failure;
      const flag = f === 'per-try-timeout' ? 'UT' : transportFailureFlag(f);
      this.#span.attempt({
        attempt,
        upstreamAddress: r.host.id,
        flags: [flag],
        durationMs,
        error: r.outcome.failure,
      });
    } else {
      this.#span.attempt({ attempt, flags: [r.kind === 'overflow' ? 'UO' : 'UH'], durationMs });
    }
  }

  /**
   * The pipeline produced a response: report now for a local reply, or when a
   * streamed body ends, is destroyed or fails (its bytes counted as they arrive).
   */
  responded(
    state: CallState,
    plan: MeshPlan,
    status: number,
    headers: HeaderRecord,
    body: Readable | Buffer,
  ): void {
    this.#takeOperation(state, headers);
    const log = this.#t.accessLog.client;
    if (log.enabled)
      LOGGED.set(this, {
        firstByteMs:
          log.needsTiming === true && state.upstream !== null ? this.#t.clock.now() - this.#startMs : null,
        localBody: state.upstream === null && Buffer.isBuffer(body) ? body : null,
      });
    if (Buffer.isBuffer(body)) {
      this.#finish(state, plan, status, headers, body.length, null);
      return;
    }
    // With a content-length the body's size is known once it ends; only a chunked body
    // (or one cut short) needs its bytes counted as they arrive.
    const declared = headers['content-length'];
    const length = typeof declared === 'string' ? Number(declared) : NaN;
    // A response that has no body (HEAD, 204, 304, 1xx, content-length 0) is complete with
    // its headers: Envoy reports it then, whether or not the application reads the empty
    // stream, which ends only when read.
    if (this.#method === 'HEAD' || status === 204 || status === 304 || status < 200 || length === 0) {
      this.#finish(state, plan, status, headers, 0, null);
      return;
    }
    if (Number.isSafeInteger(length) && length >= 0) {
      onBodyDone(body, () =>
        this.#finish(cutShort(state, body), plan, status, headers, body.readableEnded ? length : 0, null),
      );
      return;
    }
    const count = countPushedBytes(body);
    onBodyDone(body, () => this.#finish(cutShort(state, body), plan, status, headers, count.bytes, null));
  }

  /**
   * The upstream switched protocols (a 101 to a gateway's upgrade request): reported when
   * its connection closes, as Envoy reports an upgraded stream, which lasts as long as the
   * connection does. The bytes the client sent on it are the request's body, the upstream's
   * the response's. Which side closed first sets the flag: the client (the gateway closing
   * the upstream connection after it) resets the stream in the connection manager, `DC`
   * (conn_manager_impl.cc doConnectionClose); the upstream's close is no end of an upgraded
   * HTTP/1 response, so the codec client resets the stream and the router logs `UC`
   * (codec_client.cc onEvent, router.cc onUpstreamReset).
   */
  upgraded(
    state: CallState,
    plan: MeshPlan,
    status: number,
    headers: HeaderRecord,
    connection: UpgradedConnection,
  ): void {
    this.#takeOperation(state, headers);
    const log = this.#t.accessLog.client;
    if (log.enabled)
      LOGGED.set(this, {
        firstByteMs: log.needsTiming === true ? this.#t.clock.now() - this.#startMs : null,
        localBody: null,
      });
    watchConnection(
      connection.socket,
      () => this.#t.clock.now(),
      (c) => {
        this.#requestBody = c.sentBytes;
        const end: CallState =
          c.closedBy === 'remote'
            ? {
                ...state,
                flags: [...state.flags, 'UC'],
                details: 'upstream_reset_after_response_started{connection_termination}',
              }
            : { ...state, flags: [...state.flags, 'DC'], details: 'downstream_remote_disconnect' };
        this.#finish(end, plan, status, headers, connection.head.length + c.receivedBytes, null);
      },
    );
  }

  /**
   * The matched route's decorator operation, which names the span: as `routed` found it,
   * before the route's header operations changed the request; else (read only when the
   * span records) from the route and request routing kept.
   */
  #operationAtEnd(state: CallState): string | null {
    if (this.#operation !== undefined) return this.#operation;
    const route = state.matchedRoute;
    const request = state.matchedRequest;
    if (route === null || request === null || this.#span.span?.isRecording() !== true) return null;
    return operationOf(route, request);
  }

  /**
   * Envoy's egress connection manager, tracing configured, takes the upstream's
   * `x-envoy-decorator-operation` off the response the application gets, a non-empty one
   * naming the span (conn_manager_impl.cc encodeHeaders). A known non-HTTP service port
   * (no route, not the passthrough) goes through tcp_proxy, which has no connection manager.
   */
  #takeOperation(state: CallState, headers: HeaderRecord): void {
    if (this.#span.span === null) return;
    const answered = headers[DECORATOR_OPERATION_HEADER];
    if (answered === undefined || (state.matchedRoute === null && state.cluster !== PASSTHROUGH_CLUSTER))
      return;
    delete headers[DECORATOR_OPERATION_HEADER];
    const value = typeof answered === 'string' ? answered : answered[0];
    if (value !== undefined && value !== '') this.#answered = value;
  }

  /** The call rejected (caller abort or timeout, a failing request body): status 0, as Envoy reports a reset. */
  failed(state: CallState, plan: MeshPlan, error: unknown): void {
    const flags = state.flags.includes('DC') ? state.flags : [...state.flags, 'DC' as const];
    const name = error instanceof Error ? error.name : 'Error';
    this.#finish({ ...state, flags }, plan, 0, {}, 0, name);
  }

  #finish(
    state: CallState,
    plan: MeshPlan,
    status: number,
    resHeaders: Readonly<HeaderRecord>,
    responseBody: number,
    error: string | null,
  ): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const t = this.#t;
      const durationMs = t.clock.now() - this.#startMs;
      const requestBody = typeof this.#requestBody === 'number' ? this.#requestBody : this.#requestBody.bytes;
      const target = this.#target;
      const cluster = state.cluster;
      // Built only when a log line, a span or a tagOverrides expression reads it.
      const entry = once(() =>
        this.#entry(state, plan, status, resHeaders, durationMs, requestBody, responseBody),
      );
      if (t.metrics.enabled && !state.viaTcpProxy) {
        const protocol = requestProtocolOf(this.#headers['content-type']);
        const event: MetricEvent = {
          reporter: 'source',
          source: t.metrics.local,
          destination: this.#owner.peerOf(state.endpoint, plan, state.service, state.upstreamPeer),
          destinationService: this.#owner.serviceOf(state, plan, this.#hostHeader()),
          port: target.port,
          protocol,
          status,
          grpcStatus: protocol === 'grpc' ? grpcResponseStatus(resHeaders['grpc-status'], status) : null,
          flags: state.flags,
          mtls: state.upstream !== null && this.#istioMutual,
          durationMs,
          // Request line + headers + body, as on the wire (HTTP/1.1).
          requestBytes: this.#requestHeadBytes + requestBody,
          responseBytes: status === 0 ? 0 : 17 + headerBlockBytes(resHeaders) + responseBody,
          headers: this.#headers,
          method: this.#method,
          path: target.path,
          entry,
        };
        t.metrics.record(event);
      }
      if (cluster !== null && state.attempts > 1) t.meshlet.retry(cluster, state.attempts - 1);
      if (cluster !== null && state.flags.includes('URX')) t.meshlet.retryLimitExceeded(cluster);
      this.#span.end({
        status,
        flags: state.flags,
        attempts: state.attempts,
        upstreamAddress: state.upstream?.address ?? this.#lastHost,
        upstreamCluster: cluster,
        responseBytes: responseBody,
        error,
        entry,
        answeredOperation: this.#answered,
        operation: this.#operationAtEnd(state),
      });
      if (t.accessLog.client.enabled && !state.viaTcpProxy) t.accessLog.client.log(entry());
    } catch {
      // Telemetry never throws into the application.
    }
  }

  /** The Host header the application sent (Istio's fallback destination_service), else the URL's authority. */
  #hostHeader(): string {
    const host = this.#headers['host'];
    return typeof host === 'string' ? host : this.#target.authority;
  }

  #entry(
    state: CallState,
    plan: MeshPlan,
    status: number,
    resHeaders: Readonly<HeaderRecord>,
    durationMs: number,
    bytesReceived: number,
    bytesSent: number,
  ): AccessLogEntry {
    const host = this.#headers['host'];
    const endpoint = state.endpoint;
    const responseHead = status === 0 ? 0 : 17 + headerBlockBytes(resHeaders);
    const answered = state.upstream !== null;
    const logged = LOGGED.get(this);
    const upstreamHost = state.upstream?.address ?? this.#lastHost;
    const authority = typeof host === 'string' ? host : this.#target.authority;
    return {
      direction: 'OUTBOUND',
      xds: once(() =>
        outboundXds(this.#t, { plan, state, authority, port: this.#target.port, upstreamHost }),
      ),
      // The application's connection to its sidecar has no TLS, and meshlet has no such
      // connection: `%DOWNSTREAM_*%` addresses and `%CONNECTION_ID%` stay unset.
      downstreamTls: null,
      // The answering try's connection, as the transport handed it over: its TLS read only
      // when an operator or attribute asks (`%UPSTREAM_PEER_URI_SAN%`, `upstream.tls_version`).
      upstreamTls: tlsConnectionOf(state.upstreamConnection),
      upstreamConnection: state.upstreamConnection,
      // meshlet's transports speak HTTP/1.1 upstream.
      upstreamProtocol: answered ? 'HTTP/1.1' : null,
      upstreamRemoteAddress: state.upstream?.address ?? null,
      upstreamHostname: endpoint !== null && !isIP(endpoint.address) ? endpoint.address : null,
      upstreamLocality: localityOf(endpoint),
      upstreamPeer: state.upstreamPeer,
      ...traceIdsOf(this.#span.span),
      localReplyBody: answered ? '' : (logged?.localBody?.toString('utf8') ?? ''),
      wire: {
        downstreamReceived: this.#requestHeadBytes + bytesReceived,
        downstreamSent: responseHead + bytesSent,
        downstreamHeadersReceived: this.#requestHeadBytes,
        downstreamHeadersSent: responseHead,
      },
      timing: {
        // A buffered request body (or none) was all there when the call started.
        lastDownstreamRx: typeof this.#requestBody === 'number' ? 0 : null,
        // The answering try's start; a passthrough call (no router) goes upstream at once.
        firstUpstreamTx: answered ? (this.#tryStartMs ?? (state.matchedRoute === null ? 0 : null)) : null,
        firstUpstreamRx: logged?.firstByteMs ?? null,
        lastUpstreamRx: answered ? durationMs : null,
        firstDownstreamTx: logged?.firstByteMs ?? null,
        lastDownstreamTx: durationMs,
      },
      startTime: this.#startEpoch,
      method: this.#method,
      path: this.#target.path,
      authority,
      scheme: this.#target.scheme,
      protocol: 'HTTP/1.1',
      responseCode: status,
      responseFlags: state.flags,
      responseCodeDetails: detailsOf(state),
      connectionTerminationDetails: null,
      upstreamTransportFailureReason: state.transportFailureReason,
      bytesReceived,
      bytesSent,
      durationMs: Math.round(durationMs),
      requestHeaders: this.#headers,
      responseHeaders: resHeaders,
      upstreamHost,
      upstreamCluster: state.cluster,
      upstreamLocalAddress: state.upstreamLocalAddress,
      downstreamLocalAddress: null,
      downstreamRemoteAddress: null,
      requestedServerName: null,
      routeName: envoyRouteName(state),
      attempts: state.attempts,
    };
  }
}

/** An endpoint's `region/zone/subzone` as Envoy's Locality (`upstream.locality`). */
function localityOf(endpoint: Endpoint | null): EntryLocality | null {
  if (endpoint === null) return null;
  const [region = '', zone = '', subZone = ''] = (endpoint.locality ?? '').split('/');
  return { region, zone, subZone };
}

/**
 * Envoy's `%ROUTE_NAME%`: istiod names each route `http[].name`, plus `.` and the name of
 * the match it came from (pilot route/route.go translateRoute), so an unnamed rule logs
 * `-`; its own routes are `default`, `allow_any` and `block_all`. `res.meshlet.route`
 * keeps meshlet's `<ns>/<vs>/<rule>` id.
 */
function envoyRouteName(state: CallState): string | null {
  const route = state.matchedRoute;
  const request = state.matchedRequest;
  if (route === null || request === null || route.virtualService === null) return state.route;
  const match = route.matches.find((x) => x.test(request));
  const name = `${route.name ?? ''}${match?.name ? `.${match.name}` : ''}`;
  return name === '' ? null : name;
}
