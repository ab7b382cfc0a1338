import type { Readable } from 'node:stream';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { Transport, TransportTls } from './transport.js';
import type { ClusterManager, UpstreamHost } from './upstream/types.js';
import {
  normalizeHeaders,
  parseTarget,
  type HeaderRecord,
  type MeshFetchInit,
  type Target,
} from './request-input.js';
import { prepareBody, type RequestBody } from './request-body.js';
import { createMeshResponse, type MeshResponse } from './response.js';
import { withUpgrade } from './upgraded-response.js';
import { newCallState, toMeshletInfo, type CallState } from './call-state.js';
import { runPipeline, type PipelineDeps, type Produced } from './pipeline.js';
import type { LocalPeerHeaders } from '../telemetry/metadata-exchange/peer-metadata.js';
import { createDnsEndpoints, systemResolveDns, type ResolveDns } from './endpoints-dns.js';
import { raceSignal } from './timeouts.js';
import { whenBodyDone } from './attempt.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { OutboundTelemetry, type OutboundCall } from './call-observer.js';
import type { AppTlsPool } from './app-tls-call.js';
import { createClusterCaller, type ClusterCaller } from './cluster-call.js';
import { gatewayView } from '../gateway/gateway-view.js';
import { addFlag } from './flags.js';
import { localReply } from './local-reply.js';
import type { ResponseFlag } from './meshlet-info.js';

export type { MeshFetchInit } from './request-input.js';

/** What `createOutboundClient` needs. */
export interface OutboundClientOptions {
  /** The current plan; read once per call, so a reload never changes a call in flight. */
  readonly getPlan: () => MeshPlan;
  readonly clusters: ClusterManager;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  /** For hosts with no known endpoints; default: the system resolver. */
  readonly resolveDns?: ResolveDns;
  /** Client TLS for an upstream host (DestinationRule `tls`, auto mTLS); default: plaintext. */
  readonly tlsFor?: (cluster: Cluster, host: UpstreamHost, authority?: string) => TransportTls | null;
  /**
   * Report every call (`createMeshTelemetry`): one CLIENT span continuing the inbound
   * request's trace (W3C/B3 headers and `x-request-id` injected), one `istio_*` record
   * with reporter `source` and one client access log line when the response body is
   * done, and retry metrics. Absent: nothing is built per call. Pool overflow and
   * outlier ejections come from the cluster manager: create it with
   * `createClusterManager({ onEvent: telemetry.onUpstreamEvent })`.
   */
  readonly telemetry?: MeshTelemetry | null;
  /**
   * This workload's metadata-exchange headers, sent on every HTTP call out
   * (`localPeerHeaders`; outbound/peer-exchange.ts). Absent: none are sent; an upstream's
   * are still taken off its response.
   */
  readonly peerHeaders?: LocalPeerHeaders | null;
  /**
   * The tcp_proxy an https call the mesh does not originate TLS for runs through, with the
   * application's own TLS (`mesh.connect`'s parts; app-tls-call.ts). Absent: such calls
   * go through the transport to the URL's host.
   */
  readonly tcp?: AppTlsPool | null;
  /** Only https calls a `tls` rule routes take `tcp` (the mock mesh); default: all of them. */
  readonly tcpForTlsRulesOnly?: boolean;
}

/** The mesh's HTTP client: `fetch` through Istio's routing and resilience policies. */
export interface OutboundClient {
  fetch(url: string | URL, init?: MeshFetchInit): Promise<MeshResponse>;
  /**
   * Calls straight to a service port's cluster, with its DestinationRule policy but no
   * route or telemetry: how the mesh reaches extension providers (ext_authz).
   */
  readonly cluster: ClusterCaller;
  /**
   * A gateway's request: routed by the route tables of the plan's `gateway` (the
   * VirtualServices bound to its Gateways, compile/gateway-routes.ts) instead of the
   * sidecar's, and reported as the call is on a sidecar's outbound side, which is how
   * istiod configures a gateway's telemetry (model/telemetry.go `workloadMode`: a gateway
   * is a CLIENT). `at.answered`: the gateway's own filters replied (RBAC, JWT, rate limit,
   * an https redirect); that reply is reported the same way, with no routing.
   */
  readonly forward: (url: string | URL, init?: MeshFetchInit, at?: GatewayForward) => Promise<MeshResponse>;
  /**
   * `fetch` for a request an application wrote on an in-process connection
   * (app-connection.ts): `at.upgrade` carries its `Upgrade` token upstream, `at.answered`
   * is the sidecar's own reply to it (an upgrade it does not allow), reported as any call.
   */
  readonly send: (
    url: string | URL,
    init: MeshFetchInit,
    at: Pick<GatewayForward, 'answered' | 'upgrade'>,
  ) => Promise<MeshResponse>;
}

/** What the gateway's own filters decided about a request it forwards. */
export interface GatewayForward {
  /** They replied themselves (RBAC, JWT, rate limit, an https redirect): no routing. */
  readonly answered?: GatewayReply | null;
  /** The verified JWT payload, for routes matching `@request.auth.claims`. */
  readonly claims?: Readonly<Record<string, unknown>> | null;
  /**
   * The route configuration of the server the connection came in on
   * (`GatewayServerInfo.routeName`): only its virtual hosts route the request. Absent: all.
   */
  readonly routeName?: string | null;
  /**
   * The request's weighted route draw, in [0, 1), when its filters asked for its route
   * (gateway-route-target.ts): the router lands on the cluster they saw.
   */
  readonly drawn?: number;
  /**
   * The request asks to upgrade the connection (its `Upgrade` token, `websocket`): the
   * router's try carries it upstream, and a 101's connection comes with the response
   * (upgraded-response.ts `upgradedOf`).
   */
  readonly upgrade?: string;
}

/** A reply the gateway's filters made themselves. */
export interface GatewayReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string;
  readonly flags: readonly ResponseFlag[];
  /** Envoy's `%RESPONSE_CODE_DETAILS%` for it, when known. */
  readonly details?: string;
}

/** The caller's own signal and timeout, merged into one signal; null when the call has neither. */
interface CallerScope {
  readonly signal: AbortSignal;
  dispose(): void;
}

function callerScope(init: MeshFetchInit, clock: Clock): CallerScope | null {
  const parent = init.signal ?? null;
  const ms =
    typeof init.timeout === 'number' && Number.isFinite(init.timeout) && init.timeout > 0
      ? init.timeout
      : null;
  if (ms === null) return parent === null ? null : { signal: parent, dispose: () => {} };
  const ctl = new AbortController();
  const timer = clock.setTimeout(() => {
    ctl.abort(
      new MeshletError(
        'MESHLET_ERR_OUTBOUND_TIMEOUT',
        `the call did not complete within its ${ms} ms timeout`,
        {
          timeoutMs: ms,
        },
      ),
    );
  }, ms);
  const onAbort = (): void => ctl.abort(parent?.reason);
  if (parent !== null) {
    if (parent.aborted) onAbort();
    else parent.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: ctl.signal,
    dispose: () => {
      clock.clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

function discard(p: Produced): void {
  if (!Buffer.isBuffer(p.body)) p.body.destroy();
}

/**
 * Keeps the caller's timeout and signal armed while the body streams: aborting then
 * destroys the body with the reason (as `fetch` does); the timer goes when the body ends.
 */
function armBody(body: Readable, scope: CallerScope): void {
  const onAbort = (): void => {
    body.destroy(scope.signal.reason as Error);
  };
  scope.signal.addEventListener('abort', onAbort, { once: true });
  let disposed = false;
  whenBodyDone(body, () => {
    if (disposed) return;
    disposed = true;
    scope.signal.removeEventListener('abort', onAbort);
    scope.dispose();
  });
}

/**
 * Creates the outbound client a mesh's `fetch` and `got` run on (issue #3). Each call
 * takes the plan once, then runs the pipeline (runPipeline). Bad input rejects —
 * never throws synchronously — with `MESHLET_ERR_OUTBOUND_URL`, `_SCHEME` or `_BODY`;
 * the caller's `timeout` rejects with `MESHLET_ERR_OUTBOUND_TIMEOUT` and its `signal`
 * with the signal's reason. Every response carries `res.meshlet`.
 */
export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const deps: PipelineDeps = Object.freeze({
    transport: options.transport,
    clusters: options.clusters,
    clock: options.clock,
    random: options.random,
    dnsEndpoints: createDnsEndpoints(options.resolveDns ?? systemResolveDns, options.clock),
    tlsFor: options.tlsFor ?? null,
    peerHeaders: options.peerHeaders ?? null,
    tcp: options.tcp ?? null,
    tcpForTlsRulesOnly: options.tcpForTlsRulesOnly === true,
  });
  const getPlan = options.getPlan;
  const telemetry =
    options.telemetry === undefined || options.telemetry === null
      ? null
      : new OutboundTelemetry(options.telemetry);

  const fetch = (url: string | URL, init: MeshFetchInit = {}): Promise<MeshResponse> =>
    begin(getPlan(), url, init, 'outbound', null, null);

  const forward = (
    url: string | URL,
    init: MeshFetchInit = {},
    at: GatewayForward = {},
  ): Promise<MeshResponse> =>
    begin(
      gatewayView(getPlan(), at.routeName ?? null),
      url,
      init,
      'inbound',
      at.answered ?? null,
      at.claims ?? null,
      at.drawn,
      at.upgrade,
    );

  // Not async itself (one promise less per call), so it must turn a throw into a rejection.
  function begin(
    plan: MeshPlan,
    url: string | URL,
    init: MeshFetchInit,
    side: 'inbound' | 'outbound',
    answered: GatewayReply | null,
    claims: Readonly<Record<string, unknown>> | null,
    drawn?: number,
    upgrade?: string,
  ): Promise<MeshResponse> {
    try {
      const target = parseTarget(url);
      const body = prepareBody(init.body);
      const headers = normalizeHeaders(init.headers);
      const method = (init.method ?? 'GET').toUpperCase();
      if (init.ca !== undefined && typeof init.ca !== 'string' && !Buffer.isBuffer(init.ca))
        throw new MeshletError(
          'MESHLET_ERR_OUTBOUND_OPTIONS',
          'mesh.fetch: init.ca must be PEM text or a Buffer',
          {
            option: 'ca',
          },
        );
      const call = telemetry === null ? null : telemetry.start(target, method, headers, body.data);
      const state = newCallState(call);
      if (answered === null)
        return run(plan, state, call, target, method, headers, body, init, side, claims, drawn, upgrade);
      for (const f of answered.flags) addFlag(state.flags, f);
      if (answered.details !== undefined) state.details = answered.details;
      // Envoy's local reply: plain text with its length, the filter's own headers over them.
      const own: Record<string, string | readonly string[]> = {};
      for (const [k, v] of Object.entries(answered.headers)) own[k.toLowerCase()] = v;
      const reply = localReply(answered.status, answered.body, null, own);
      return Promise.resolve(respond(plan, state, call, reply, side));
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- whatever was thrown, as an async function rejects
      return Promise.reject(err);
    }
  }

  function respond(
    plan: MeshPlan,
    state: CallState,
    call: OutboundCall | null,
    p: Produced,
    side: 'inbound' | 'outbound',
  ): MeshResponse {
    // The outbound connection manager overwrites `server` on every response it encodes,
    // the upstream's and its own local replies, after the route's header operations
    // (conn_manager_impl.cc ActiveStream::encodeHeaders; Istio leaves the sidecar's
    // outbound name at Envoy's `envoy`, pilot/pkg/networking/util/proxy_headers.go, and
    // gives a gateway's connection manager the inbound name, `istio-envoy`).
    const server = plan.meshConfig.proxyHeaders.server;
    if (server !== null && p.tcp !== true) p.headers['server'] = server[side];
    const upgraded = p.upgraded;
    if (upgraded !== undefined) {
      call?.upgraded(state, plan, p.status, p.headers, upgraded);
      return withUpgrade(createMeshResponse(p.status, p.headers, p.body, toMeshletInfo(state)), upgraded);
    }
    if (call !== null) call.responded(state, plan, p.status, p.headers, p.body);
    return createMeshResponse(p.status, p.headers, p.body, toMeshletInfo(state));
  }

  // One async function per call, with or without telemetry: a failure is reported here.
  async function run(
    plan: MeshPlan,
    state: CallState,
    call: OutboundCall | null,
    target: Target,
    method: string,
    headers: HeaderRecord,
    body: RequestBody,
    init: MeshFetchInit,
    side: 'inbound' | 'outbound',
    claims: Readonly<Record<string, unknown>> | null = null,
    drawn?: number,
    upgrade?: string,
  ): Promise<MeshResponse> {
    try {
      const scope = callerScope(init, deps.clock);
      const work = runPipeline(deps, {
        plan,
        target,
        method,
        headers,
        body,
        signal: scope?.signal ?? null,
        state,
        claims,
        ca: init.ca ?? null,
        ...(drawn === undefined ? {} : { drawn }),
        headersCounted: side === 'inbound',
        ...(upgrade === undefined ? {} : { upgrade }),
      });
      let p: Produced;
      if (scope === null) p = await work;
      else {
        try {
          p = await raceSignal(work, scope.signal, discard);
        } catch (err) {
          scope.dispose();
          throw err;
        }
        // A 101's connection outlives the call: the caller's signal no longer applies to it.
        if (Buffer.isBuffer(p.body) || p.upgraded !== undefined) scope.dispose();
        else armBody(p.body, scope);
      }
      return respond(plan, state, call, p, side);
    } catch (err) {
      call?.failed(state, plan, err);
      throw err;
    }
  }

  const send = (
    url: string | URL,
    init: MeshFetchInit,
    at: Pick<GatewayForward, 'answered' | 'upgrade'>,
  ): Promise<MeshResponse> =>
    begin(getPlan(), url, init, 'outbound', at.answered ?? null, null, undefined, at.upgrade);

  return Object.freeze({ fetch, forward, send, cluster: createClusterCaller(deps, getPlan) });
}
