import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AccessLogEntry } from '../telemetry/access-log/entry.js';
import { inboundTimingOf, watchInboundTiming } from '../telemetry/access-log/inbound-timing.js';
import { jwtMetadata } from './dynamic-metadata.js';
import { traceIdsOf } from '../telemetry/access-log/entry-facts.js';
import { tlsConnectionOf } from '../telemetry/access-log/tls-fields.js';
import { hostPort } from '../outbound/upstream/host-state.js';
import { once } from '../telemetry/access-log/xds-facts.js';
import { inboundXds } from '../telemetry/access-log/xds-inbound.js';
import { inboundClusterOf } from '../telemetry/inbound-services.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { requestProtocolOf } from '../telemetry/metrics/destination-service.js';
import { grpcResponseStatus } from '../telemetry/metrics/grpc-status.js';
import type { DestinationService, MetricEvent } from '../telemetry/metrics/metric-event.js';
import { peerFromIdentity, peerWithMetadata } from '../telemetry/peer-labels.js';
import {
  PEER_METADATA,
  peerMetadataOf,
  type PeerMetadata,
} from '../telemetry/metadata-exchange/peer-metadata.js';
import { REQUEST_ID_HEADER } from '../telemetry/tracing/propagation.js';
import type { ServerSpan } from '../telemetry/tracing/mesh-tracing.js';
import { countPushedBytes, requestHeadBytes, type ByteCount } from '../telemetry/wire-bytes.js';
import { wallClockMs } from '../runtime/wall-clock.js';
import type { ResponseFlag } from '../outbound/meshlet-info.js';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import { declaresBody } from './request-body.js';
import type { InboundHandle, InboundObservation } from './handle.js';
import { watchResponse, type ResponseWatcher } from './response-done.js';
import { reportCodecRefusal } from './codec-refusal-report.js';
import { inFlightRefusalOn, type InFlightRefusal } from './server/codec-error-reply.js';
import { watchUpgradedStream, type UpgradedStream } from './server/upgraded-stream.js';
import { forwardedClient } from './authz/remote-ip.js';
import { carriesExchange, withoutExchange } from './peer-exchange.js';
import { sentResponseHeaders } from './sent-headers.js';
import { DECORATOR_OPERATION, setResponseOperation } from './forwarded-response.js';

type Observe = NonNullable<InboundHandle['observe']>;

const NO_FLAGS: readonly ResponseFlag[] = Object.freeze([]);
const NO_BODY: ByteCount = Object.freeze({ bytes: 0 });

/**
 * How the inbound listener finds the client (`remote.ip`, `%DOWNSTREAM_REMOTE_ADDRESS%`):
 * a sidecar's or a gateway's rules (inbound/authz/remote-ip.ts).
 */
export interface ClientTopology {
  readonly gateway: boolean;
  readonly numTrustedProxies: number;
}

const SIDECAR_TOPOLOGY: ClientTopology = Object.freeze({ gateway: false, numTrustedProxies: 0 });
const SIDECAR = (): ClientTopology => SIDECAR_TOPOLOGY;

/** Envoy's `%RESPONSE_CODE_DETAILS%` for an inbound refusal. */
function denyDetails(d: Extract<InboundDecision, { allow: false }>): string {
  switch (d.reason.stage) {
    case 'ratelimit':
      return 'local_rate_limited';
    case 'jwt':
      return 'jwt_authn_access_denied';
    case 'custom':
      return 'ext_authz_denied';
    case 'deny':
    case 'allow':
      return `rbac_access_denied_matched_policy[${d.reason.policy ?? 'none'}]`;
    default:
      return 'direct_response';
  }
}

const DC: readonly ResponseFlag[] = Object.freeze(['DC']);
const UC: readonly ResponseFlag[] = Object.freeze(['UC']);

/**
 * How an upgraded stream ended, as Envoy logs it. The client closing resets the stream in
 * the connection manager (conn_manager_impl.cc doConnectionClose): `DC`. The application
 * closing is no end of an upgraded HTTP/1 response (the codec dispatches an upgraded
 * connection's bytes as body, EOF included), so the codec client resets the stream
 * (codec_client.cc onEvent) and the router logs `UC` (router.cc onUpstreamReset), after the
 * response started or, with no head written, before it. A head other than 101 is a plain
 * response, complete once the application closed.
 */
function upgradeEnd(u: UpgradedStream): { flags: readonly ResponseFlag[]; details: string } {
  if (u.status !== 0 && u.status !== 101) return { flags: NO_FLAGS, details: 'via_upstream' };
  if (u.closedBy === 'downstream') return { flags: DC, details: 'downstream_remote_disconnect' };
  return {
    flags: UC,
    details: `upstream_reset_${u.status === 0 ? 'before' : 'after'}_response_started{connection_termination}`,
  };
}

/** When an upgraded stream's first response byte went out, from the request's start. */
function sentAt(u: UpgradedStream, startMs: number): number | null {
  return u.firstSentAt === null ? null : u.firstSentAt - startMs;
}

/**
 * Whether the codec or the connection manager refused the request before routing it: no
 * route, span, filter or exchange answer, reported as codec-refusal-report.ts does.
 */
function isUnrouted(d: InboundDecision | null): d is Extract<InboundDecision, { allow: false }> {
  return d !== null && !d.allow && (d.reason.stage === 'codec' || d.reason.stage === 'connection');
}

/** The ALLOW/DENY/CUSTOM action behind a denial, or null when it was not authorization. */
function authzAction(stage: string): 'ALLOW' | 'DENY' | 'CUSTOM' | null {
  return stage === 'deny' ? 'DENY' : stage === 'allow' ? 'ALLOW' : stage === 'custom' ? 'CUSTOM' : null;
}

/**
 * `destination_service*` of an inbound request, by the local port it arrived on: the
 * telemetry's `inboundService` (the configured service, else the Service selecting the
 * workload on that port, else the inbound passthrough's). Istio never reads the Host header
 * on inbound (pilot/pkg/model/telemetry.go disableHostHeaderFallback).
 */
function inboundServices(t: MeshTelemetry): (port: number) => DestinationService {
  return (port) => t.inboundService(port);
}

/** Remove every `name` header from `headers` and `rawHeaders`. */
function removeRequestHeader(req: IncomingMessage, name: string): void {
  delete req.headers[name];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2)
    if ((raw[i] as string).toLowerCase() === name) raw.splice(i, 2);
}

/** Replace the request's (first) `x-request-id` in `headers` and `rawHeaders`. */
function setRequestId(req: IncomingMessage, requestId: string): void {
  req.headers[REQUEST_ID_HEADER] = requestId;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === REQUEST_ID_HEADER) {
      raw[i + 1] = requestId;
      return;
    }
  }
}

/** The request's context for handlers and its telemetry until the response is done. */
class NodeObservation implements InboundObservation, ResponseWatcher {
  readonly #t: MeshTelemetry;
  readonly #services: (port: number) => DestinationService;
  readonly #req: IncomingMessage;
  /** `ResponseWatcher`: the response this request is answered with. */
  readonly response: ServerResponse;
  readonly #request: InboundRequest;
  readonly #span: ServerSpan;
  readonly #startMs: number;
  /** Wall-clock start (`%START_TIME%`), real time whatever clock `#startMs` reads. */
  readonly #startEpoch: number;
  readonly #body: ByteCount;
  /** The request line and header block as received, before any edit or generated header. */
  readonly #requestHeadBytes: number;
  #decision: InboundDecision | null = null;
  #done = false;
  readonly #topology: () => ClientTopology;
  /** The caller's `x-envoy-peer-metadata`, read before the engine takes it off the request. */
  readonly #peerMetadata: PeerMetadata | null;
  /** The request's own `x-request-id`, as sent. */
  readonly #sentRequestId: string | readonly string[] | undefined;
  /** The codec's reply, when the parser refused this request's body and answered it. */
  #codecReply: InFlightRefusal | null = null;
  /** How the upgraded stream went, once its connection closed (`upgraded`). */
  #upgrade: UpgradedStream | null = null;
  /** Handed to the upgrade listeners: the stream, not a node response, ends the request. */
  #upgrading = false;

  constructor(
    t: MeshTelemetry,
    services: (port: number) => DestinationService,
    topology: () => ClientTopology,
    req: IncomingMessage,
    res: ServerResponse,
    request: InboundRequest,
  ) {
    this.#t = t;
    this.#services = services;
    this.#topology = topology;
    this.#req = req;
    this.response = res;
    this.#request = request;
    this.#startMs = t.clock.now();
    const mx = request.headers[PEER_METADATA];
    this.#peerMetadata = mx === undefined || topology().gateway ? null : peerMetadataOf(mx);
    // wallClockMs: one fast monotonic read, where Date.now() is a V8 runtime call on Node 20.
    this.#startEpoch = wallClockMs();
    this.#span = t.tracing.startServerSpan({
      method: request.method,
      url: request.url,
      scheme: request.scheme,
      authority: request.authority,
      port: request.port,
      headers: request.headers,
      peerAddress: request.sourceIp === '' ? null : request.sourceIp,
    });
    this.#requestHeadBytes = requestHeadBytes(request.method, request.url, req.rawHeaders);
    // Envoy's ingress connection manager, tracing configured, takes the caller's
    // x-envoy-decorator-operation off the request (conn_manager_impl.cc traceRequest), and
    // answers the route's operation unless the caller named it (`decided`).
    if (!t.tracing.config.server.disabled && request.headers[DECORATOR_OPERATION] !== undefined) {
      removeRequestHeader(req, DECORATOR_OPERATION);
      // Before any filter: authorization and an ext_authz check do not see it either.
      (request.headers as Record<string, string | readonly string[] | undefined>)[DECORATOR_OPERATION] =
        undefined;
    }
    // Envoy generates x-request-id at the edge, or marks a sampled one (trace reason), and
    // forwards it to the application.
    // None when none was sent and generating is off (proxyHeaders.requestId.disabled).
    const requestId = this.#span.requestId;
    const sent = request.headers[REQUEST_ID_HEADER];
    this.#sentRequestId = sent;
    if (requestId !== null && sent !== requestId) {
      if (sent === undefined) {
        req.headers[REQUEST_ID_HEADER] = requestId;
        req.rawHeaders.push('x-request-id', requestId);
      } else setRequestId(req, requestId);
      // Envoy's connection manager sets x-request-id before any filter runs, so authorization
      // (`request.headers[x-request-id]`) and an ext_authz check see the id the app will see.
      (request.headers as Record<string, string | readonly string[] | undefined>)[REQUEST_ID_HEADER] =
        requestId;
    }
    // The common GET has no body, so needs no counting.
    this.#body = declaresBody(request.headers) ? countPushedBytes(req) : NO_BODY;
    // Only for an access log that prints request timing (`%RESPONSE_DURATION%`...).
    if (t.accessLog.server.needsTiming === true) {
      const start = this.#startMs;
      watchInboundTiming(req, res, () => t.clock.now() - start);
    }
    watchResponse(req, this);
  }

  /** `ResponseWatcher`: the response finished, or its connection closed before it did. */
  responseDone(wireBytes: number | null, finished: boolean): void {
    // The response an upgrade was routed with (a WebSocket plugin's) closes with the socket.
    if (!this.#upgrading) this.#finish(wireBytes, finished);
  }

  decided(decision: InboundDecision): void {
    this.#decision = decision;
    // Envoy's codec, or its connection manager before routing, refused it: nothing traced it.
    if (!decision.allow && (decision.reason.stage === 'codec' || decision.reason.stage === 'connection'))
      return;
    const operation = this.#span.responseOperation;
    if (decision.allow) {
      // Added with the forwarded response's other headers (forwarded-response.ts).
      if (operation !== null) setResponseOperation(this.response, operation);
      return;
    }
    // A local reply is encoded with the operation too; it is rare enough for setHeader.
    if (operation !== null) this.response.setHeader(DECORATOR_OPERATION, operation);
    const m = this.#t.meshlet;
    const stage = decision.reason.stage;
    if (stage === 'ratelimit') m.rateLimited(this.#request.port);
    else {
      const action = authzAction(stage);
      if (action !== null) m.authzDenied(decision.reason.policy, action);
    }
  }

  run<T>(fn: () => T): T {
    return this.#t.requestContext ? this.#span.run(fn) : fn();
  }

  upgraded(socket: Duplex, head: Buffer): void {
    this.#upgrading = true;
    const clock = this.#t.clock;
    watchUpgradedStream(
      socket,
      head,
      () => clock.now(),
      (u) => {
        this.#upgrade = u;
        this.#finish(null, true);
      },
    );
  }

  #finish(wireBytes: number | null, finished: boolean): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const t = this.#t;
      const res = this.response;
      const request = this.#request;
      const d = this.#decision;
      const durationMs = t.clock.now() - this.#startMs;
      let status = res.headersSent ? res.statusCode : 0;
      let flags = d === null || d.allow ? NO_FLAGS : d.flags;
      const headerText = (res as { _header?: unknown })._header;
      let responseHeaderBytes = typeof headerText === 'string' ? headerText.length : 0;
      const contentLength = Number(res.getHeader('content-length'));
      let responseBytes =
        wireBytes !== null && wireBytes > 0
          ? wireBytes
          : responseHeaderBytes + (Number.isFinite(contentLength) ? contentLength : 0);
      let requestBody = this.#body.bytes;
      // The codec refused the request's body and answered it itself (a bad chunk): the
      // stream ends with its local reply and DPE, as Envoy's does.
      const codec = finished ? undefined : inFlightRefusalOn(this.#req.socket);
      const upgrade = this.#upgrade;
      if (upgrade !== null) {
        // The upgraded stream: the frames both ways are its body.
        status = upgrade.status;
        flags = upgradeEnd(upgrade).flags;
        responseHeaderBytes = upgrade.headBytes;
        responseBytes = upgrade.sentBytes;
        requestBody = upgrade.receivedBytes;
      } else if (codec !== undefined) {
        this.#codecReply = codec;
        status = codec.refusal.status;
        flags = [...flags, 'DPE'];
        responseHeaderBytes = codec.reply.headerBytes;
        responseBytes = codec.reply.headerBytes + codec.reply.bodyBytes;
      } else if (!finished) {
        // The client went away before the response was complete: Envoy's `DC`. Whether it
        // was is the event's to say: a response can finish with bytes still in its socket's
        // buffer (writableFinished false), as the mock mesh's in-memory sockets hold them.
        flags = [...flags, 'DC'];
      }
      const responseBody = Math.max(0, responseBytes - responseHeaderBytes);
      const requestBytes = this.#requestHeadBytes + requestBody;
      if (isUnrouted(d)) {
        // No span either: the connection manager had not traced the request yet.
        reportCodecRefusal(t, {
          refusal: { status, details: d.reason.responseCodeDetails ?? '', body: d.body },
          flags: d.flags,
          // The codec hands over no headers; the connection manager had them as received.
          ...(d.reason.stage === 'codec'
            ? {}
            : {
                request: {
                  method: request.method,
                  path: request.url,
                  authority: request.authority,
                  protocol: envoyProtocol(this.#req.httpVersion),
                  headers: this.#receivedHeaders(),
                },
              }),
          peer: request.peer,
          port: request.port,
          sourceIp: request.sourceIp,
          sourcePort: request.sourcePort ?? 0,
          destinationIp: request.destinationIp,
          sni: request.sni,
          connection: this.#req.socket,
          startEpoch: this.#startEpoch,
          durationMs,
          requestBytes,
          replyHeaderBytes: responseHeaderBytes,
          replyBodyBytes: responseBody,
          replyHeaders: sentResponseHeaders(res) as Readonly<Record<string, string>>,
        });
        return;
      }
      // Built only when a log line, a span or a tagOverrides expression reads it.
      const entry = once(() => this.#entry(status, flags, durationMs, requestBody, responseBody));
      if (t.metrics.enabled) {
        const fromCert = peerFromIdentity(request.peer);
        const protocol = requestProtocolOf(request.headers['content-type']);
        const event: MetricEvent = {
          reporter: 'destination',
          // A meshed caller's workload labels come from its metadata exchange (spec/telemetry.md).
          source: this.#peerMetadata === null ? fromCert : peerWithMetadata(fromCert, this.#peerMetadata),
          destination: t.metrics.local,
          destinationService: this.#services(request.port),
          port: request.port,
          protocol,
          status,
          // The grpc-status the response went out with (parsed from its header block: writeHead
          // headers are not in getHeaders()), read for gRPC requests only.
          grpcStatus:
            protocol === 'grpc' && status !== 0
              ? grpcResponseStatus(sentResponseHeaders(res)['grpc-status'], status)
              : null,
          flags,
          mtls: request.peer !== null,
          durationMs,
          requestBytes,
          responseBytes,
          headers: request.headers,
          method: request.method,
          path: request.url,
          httpVersion: this.#req.httpVersion,
          entry,
        };
        t.metrics.record(event);
      }
      this.#span.end({
        status,
        flags,
        requestBytes,
        responseBytes,
        entry,
      });
      if (t.accessLog.server.enabled) t.accessLog.server.log(entry());
    } catch {
      // Telemetry never throws into the application.
    }
  }

  /** The request headers as received: without the `x-request-id` the connection manager sets. */
  #receivedHeaders(): InboundRequest['headers'] {
    const headers = this.#request.headers;
    const sent = this.#sentRequestId;
    return headers[REQUEST_ID_HEADER] === sent ? headers : { ...headers, [REQUEST_ID_HEADER]: sent };
  }

  /**
   * Envoy's `%DOWNSTREAM_REMOTE_ADDRESS%`: the client its connection manager found (the
   * X-Forwarded-For entry `remote.ip` reads, with port 0), else the peer.
   */
  #downstreamRemoteAddress(): string | null {
    const request = this.#request;
    const t = this.#topology();
    const forwarded = forwardedClient(request.headers['x-forwarded-for'], t.numTrustedProxies, t.gateway);
    if (forwarded !== null) return hostPort(forwarded, 0);
    return request.sourceIp === '' ? null : hostPort(request.sourceIp, request.sourcePort ?? 0);
  }

  /**
   * The request headers as Envoy's access log reads them: after the connection manager
   * set `x-request-id`, and without the exchange headers the peer_metadata filter removed
   * (a gateway keeps them: it has no inbound exchange filter).
   */
  #loggedHeaders(): InboundRequest['headers'] {
    const request = this.#request;
    let headers = request.headers;
    if (carriesExchange(headers) && !this.#topology().gateway) headers = withoutExchange(headers);
    const id = this.#span.requestId;
    return id === null || headers[REQUEST_ID_HEADER] === id
      ? headers
      : { ...headers, [REQUEST_ID_HEADER]: id };
  }

  #entry(
    status: number,
    flags: readonly ResponseFlag[],
    durationMs: number,
    bytesReceived: number,
    bytesSent: number,
  ): AccessLogEntry {
    const request = this.#request;
    const d = this.#decision;
    const allowed = d !== null && d.allow;
    const local = request.destinationIp === '' ? null : `${request.destinationIp}:${request.port}`;
    const protocol = envoyProtocol(this.#req.httpVersion);
    const socket = this.#req.socket as object | null;
    const timing = inboundTimingOf(this.#req);
    // The response's status line and header block as sent (see #finish), the codec's, or
    // the upgraded stream's.
    const codec = this.#codecReply;
    const upgrade = this.#upgrade;
    const headerText = (this.response as { _header?: unknown })._header;
    const responseHeaderBytes =
      upgrade !== null
        ? upgrade.headBytes
        : codec !== null
          ? codec.reply.headerBytes
          : typeof headerText === 'string'
            ? headerText.length
            : 0;
    return {
      direction: 'INBOUND',
      startTime: Math.round(this.#startEpoch),
      method: request.method,
      path: request.url,
      authority: request.authority === '' ? null : request.authority,
      scheme: request.scheme,
      protocol,
      // In-process, the application gets the request as it came (Istio's inbound cluster for
      // an unnamed port uses the downstream protocol, cluster_builder.go setUpstreamProtocol).
      upstreamProtocol: allowed ? protocol : null,
      connection: socket,
      downstreamTls: tlsConnectionOf(socket),
      downstreamDirectRemoteAddress:
        request.sourceIp === '' ? null : hostPort(request.sourceIp, request.sourcePort ?? 0),
      ...traceIdsOf(this.#span.span),
      localReplyBody: codec !== null ? codec.refusal.body : d !== null && !d.allow ? d.body : '',
      downstreamPeer: this.#peerMetadata,
      dynamicMetadata: dynamicMetadataOf(d),
      wire: {
        downstreamReceived: this.#requestHeadBytes + bytesReceived,
        downstreamSent: responseHeaderBytes + bytesSent,
        downstreamHeadersReceived: this.#requestHeadBytes,
        downstreamHeadersSent: responseHeaderBytes,
      },
      xds: once(() => inboundXds(this.#t, this.#services(request.port), request.port, allowed)),
      timing: {
        lastDownstreamRx: timing?.lastRequestByte ?? null,
        // The application gets the request when it is allowed, and reads it as it arrives.
        firstUpstreamTx: allowed ? 0 : null,
        lastUpstreamTx: allowed ? (timing?.lastRequestByte ?? null) : null,
        firstUpstreamRx: !allowed
          ? null
          : upgrade !== null
            ? sentAt(upgrade, this.#startMs)
            : (timing?.responseStart ?? null),
        // The application writes its response straight to the downstream.
        lastUpstreamRx: allowed && status !== 0 && !flags.includes('DC') ? durationMs : null,
        firstDownstreamTx:
          upgrade !== null ? sentAt(upgrade, this.#startMs) : (timing?.responseStart ?? null),
        lastDownstreamTx: durationMs,
      },
      responseCode: status,
      responseFlags: flags,
      responseCodeDetails:
        upgrade !== null
          ? upgradeEnd(upgrade).details
          : codec !== null
            ? codec.refusal.details
            : d === null || d.allow
              ? 'via_upstream'
              : (d.reason.responseCodeDetails ?? denyDetails(d)),
      connectionTerminationDetails: null,
      upstreamTransportFailureReason: null,
      bytesReceived,
      bytesSent,
      durationMs: Math.round(durationMs),
      requestHeaders: this.#loggedHeaders(),
      responseHeaders:
        upgrade !== null
          ? upgrade.headers
          : codec !== null
            ? codec.reply.headers
            : sentResponseHeaders(this.response),
      upstreamHost: d !== null && d.allow ? local : null,
      upstreamCluster: inboundClusterOf(this.#services(request.port), request.port),
      upstreamLocalAddress: null,
      downstreamLocalAddress: local,
      downstreamRemoteAddress: this.#downstreamRemoteAddress(),
      requestedServerName: request.sni,
      routeName: 'default',
    };
  }
}

/**
 * The request's dynamic metadata: for an allowed request jwt_authn's payload, from its
 * context (a refused decision carries the payload of a token verified before the refusal in
 * its own metadata), and what the RBAC filters wrote (dry-run results, `access_log_hint`).
 */
function dynamicMetadataOf(d: InboundDecision | null): Readonly<Record<string, unknown>> | null {
  if (d === null) return null;
  const rbac = d.metadata ?? null;
  if (!d.allow || d.context.auth === null) return rbac;
  const jwt = jwtMetadata(d.context.auth.claims);
  return rbac === null ? jwt : { ...jwt, ...rbac };
}

/** Envoy's protocol string (http/utility.cc getProtocolString) for node's `httpVersion`. */
function envoyProtocol(httpVersion: string): string {
  switch (httpVersion) {
    case '2.0':
      return 'HTTP/2';
    case '3.0':
      return 'HTTP/3';
    default:
      return `HTTP/${httpVersion}`;
  }
}

/**
 * The `InboundHandle.observe` member for a mesh's telemetry: per request a SERVER span
 * (W3C/B3 context and `x-request-id` extracted; `x-request-id` generated and set on the
 * request when absent), the handler run inside that context, and at response finish
 * one `istio_*` record with reporter `destination` (source labels from the verified
 * peer, `connection_security_policy` `mutual_tls`/`none`), the server access log line,
 * and meshlet's counters for rate-limited (429 `RL`) and authorization-denied
 * requests. Bytes are counted as they stream; nothing is buffered.
 */
export function createInboundObserver(
  telemetry: MeshTelemetry,
  options: { readonly topology?: () => ClientTopology } = {},
): Observe {
  const services = inboundServices(telemetry);
  const topology = options.topology ?? SIDECAR;
  return (req, res, request) => new NodeObservation(telemetry, services, topology, req, res, request);
}

/** `handle` with telemetry: the same decisions, plus `observe` from `createInboundObserver`. */
export function observedHandle(
  handle: InboundHandle,
  telemetry: MeshTelemetry,
  options: { readonly topology?: () => ClientTopology } = {},
): InboundHandle {
  const observe = createInboundObserver(telemetry, options);
  return {
    decide: (req) => handle.decide(req),
    ...(handle.decideNow === undefined ? {} : { decideNow: handle.decideNow.bind(handle) }),
    peerOf: (socket) => handle.peerOf(socket),
    ...(handle.forwarded === undefined ? {} : { forwarded: handle.forwarded.bind(handle) }),
    observe,
  };
}
