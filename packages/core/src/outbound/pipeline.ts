import type { Readable } from 'node:stream';
import type { Cluster, HeaderOperations, MeshPlan, RouteRequest, TcpRoute } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import type { Transport, TransportTls, UpgradedConnection } from './transport.js';
import type { ClusterManager, UpstreamCluster, UpstreamHost } from './upstream/types.js';
import type { CallState } from './call-state.js';
import type { CallHost, DnsEndpoints } from './endpoints-dns.js';
import { pinnedHost } from './pinned-host.js';
import type { RequestBody } from './request-body.js';
import { copyHeaders, headerValue, sniOf, type HeaderRecord, type Target } from './request-input.js';
import { addFlag } from './flags.js';
import {
  headersTooLarge,
  invalidTransferEncoding,
  localReply,
  noCluster,
  noRoute,
  tooManyHeaders,
  type LocalReply,
} from './local-reply.js';
import { countHeaders, MAX_HEADERS_COUNT } from '../inbound/normalize/header-count.js';
import { headerMapBytes, MAX_REQUEST_HEADERS_BYTES } from '../inbound/normalize/header-size.js';
import { redirectReply } from './redirect.js';
import { decideFault } from './fault.js';
import { addCorsHeaders, corsRequest } from './cors.js';
import { chooseDestination, callTimeouts } from './route-request.js';
import { cleanRequestHeaders } from './control-headers.js';
import { rewritePath } from './rewrite.js';
import { applyRouteHeaderOps } from './header-ops.js';
import { cookieToIssue, hashKeyOf } from './hash-key.js';
import { sourceAddress } from './source-address.js';
import { sendMirrors } from './mirror.js';
import { runRouter } from './router.js';
import { raceSignal } from './timeouts.js';
import { blackHole, sendDirect, BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from './passthrough.js';
import { requestUuid } from '../telemetry/tracing/request-uuid.js';
import type { LocalPeerHeaders } from '../telemetry/metadata-exchange/peer-metadata.js';
import { sendPeerHeaders, takePeerHeaders } from './peer-exchange.js';
import { forwardPort, forwardProto, rewriteHost } from './forwarded-headers.js';
import { sendOverApplicationTls, type AppTlsPool } from './app-tls-call.js';

/** The client's collaborators, fixed at creation. */
export interface PipelineDeps {
  readonly transport: Transport;
  readonly clusters: ClusterManager;
  readonly clock: Clock;
  readonly random: Random;
  readonly dnsEndpoints: DnsEndpoints;
  readonly tlsFor: ((cluster: Cluster, host: UpstreamHost, authority?: string) => TransportTls | null) | null;
  /** This workload's metadata-exchange headers (peer-exchange.ts); null sends none. */
  readonly peerHeaders: LocalPeerHeaders | null;
  /**
   * The tcp_proxy an https call the mesh does not originate TLS for runs on, with the
   * application's own TLS over it (app-tls-call.ts); null: such calls go through the
   * transport to the URL's host.
   */
  readonly tcp: AppTlsPool | null;
  /**
   * Only calls a VirtualService `tls` rule routes take `tcp` (the mock mesh, whose pods'
   * TLS is simulated in its transport); false: every such call.
   */
  readonly tcpForTlsRulesOnly?: boolean;
}

/** One call, validated. */
export interface PipelineInput {
  readonly plan: MeshPlan;
  readonly target: Target;
  readonly method: string;
  /** A fresh lower-case copy the pipeline may change. */
  readonly headers: HeaderRecord;
  readonly body: RequestBody;
  /** The caller's signal and timeout; null when the call has neither. */
  readonly signal: AbortSignal | null;
  readonly state: CallState;
  /**
   * The verified JWT payload a gateway's RequestAuthentication wrote, for routes matching
   * `@request.auth.claims` (only gateways route on claims: istiod's jwt_authn metadata).
   */
  readonly claims?: Readonly<Record<string, unknown>> | null;
  /** `init.ca`: what the application's own TLS trusts on an https URL it carries itself. */
  readonly ca?: string | Buffer | null;
  /** The request's weighted route draw, made before (GatewayForward.drawn). */
  readonly drawn?: number;
  /**
   * A gateway's request: its listener's codec counted the client's headers already, and the
   * ones its connection manager added since are not counted again.
   */
  readonly headersCounted?: boolean;
  /**
   * A gateway's upgrade request (GatewayForward.upgrade): its `Upgrade` token, which the
   * router's try carries upstream.
   */
  readonly upgrade?: string;
}

/** The response the pipeline produced, before it becomes a `MeshResponse`. */
export interface Produced {
  readonly status: number;
  readonly headers: HeaderRecord;
  readonly body: Readable | Buffer;
  /**
   * Proxied at the TCP level (a known service port that is not HTTP: Envoy's tcp_proxy),
   * so no connection manager touched the response: no `server` is written over it.
   */
  readonly tcp?: true;
  /** The upstream switched protocols (a 101 to `PipelineInput.upgrade`): its connection. */
  readonly upgraded?: UpgradedConnection;
}

function local(
  state: CallState,
  reply: LocalReply,
  ruleOps: HeaderOperations | null = null,
  destOps: HeaderOperations | null = null,
  weighted = false,
): Produced {
  if (reply.flag !== null) addFlag(state.flags, reply.flag);
  if (reply.details !== undefined) state.details = reply.details;
  if (reply.transportFailureReason !== undefined) state.transportFailureReason = reply.transportFailureReason;
  applyRouteHeaderOps(reply.headers, ruleOps, destOps, weighted);
  return { status: reply.status, headers: reply.headers, body: reply.body };
}

/**
 * The outbound connection manager generates x-request-id for a request that has none,
 * unless proxyHeaders.requestId.disabled (generate_request_id: false).
 */
function ensureRequestId(headers: HeaderRecord, plan: MeshPlan): void {
  if (headers['x-request-id'] === undefined && plan.meshConfig.proxyHeaders.requestId)
    headers['x-request-id'] = requestUuid();
}

/**
 * A cluster's runtime state (pool, outlier detection, load balancer), its endpoints
 * resolved by DNS when the registry has none, or from `call`'s host for a wildcard host
 * (endpoints-dns.ts). Synchronous when no lookup is needed, so the common call waits for
 * nothing.
 */
export function upstreamFor(
  deps: PipelineDeps,
  plan: MeshPlan,
  cluster: Cluster,
  signal: AbortSignal | null,
  call: CallHost | null = null,
  authority = '',
): UpstreamCluster | Promise<UpstreamCluster> {
  const dns = deps.dnsEndpoints(cluster, plan.outbound.services[cluster.host], call, authority);
  if (dns === null) return deps.clusters.get(cluster);
  return raceSignal(dns, signal).then((r) => {
    const upstream = deps.clusters.get(cluster, r.endpoints);
    return r.pinned === null ? upstream : pinnedHost(upstream, r.pinned);
  });
}

/**
 * The `tls` rule that routes an https call by its SNI on a TLS or HTTPS service port
 * (sidecar-tls-routes.ts); null when none does: no TLS listener has the address, its
 * chain for the name is the service's default one, or none takes the name
 * (PassthroughFilterChain).
 */
function tlsRuleFor(plan: MeshPlan, target: Target): TcpRoute | null {
  if (target.scheme !== 'https') return null;
  const route = plan.outbound.tls?.lookup(target.hostname, target.port, sniOf(target.hostname))?.chain?.route;
  return route === undefined || route.id === null ? null : route;
}

/**
 * The outbound listener's HTTP codec's refusal of the application's request, if any: its URL
 * and headers over 60 KiB (inbound/normalize/header-size.ts), over 100 header lines
 * (header-count.ts), or a transfer coding other than `chunked` (`501`, transfer-encoding.ts),
 * counted as the application sent it, its Host line included (the call adds
 * one when the application set none). A call the sidecar proxies as TCP (a known non-HTTP
 * port, the application's own TLS) meets no codec, and a gateway's request was counted at its
 * listener (`headersCounted`).
 */
function codecRefusal(input: PipelineInput): LocalReply | null {
  if (input.headersCounted === true) return null;
  const hostless = headerValue(input.headers, 'host') === undefined;
  const size =
    input.target.path.length +
    headerMapBytes(input.headers) +
    (hostless ? input.target.authority.length + 4 : 0);
  if (size > MAX_REQUEST_HEADERS_BYTES) return headersTooLarge();
  const hostLine = hostless ? 1 : 0;
  if (countHeaders(input.headers) + hostLine > MAX_HEADERS_COUNT) return tooManyHeaders();
  const te = input.headers['transfer-encoding'];
  if (te === undefined) return null;
  const coding = (typeof te === 'string' ? te : te.join(',')).trim().toLowerCase();
  return coding === 'chunked' ? null : invalidTransferEncoding();
}

/**
 * A host with no route configuration: an https call the application's own TLS carries
 * (app-tls-call.ts), else a known non-HTTP service port, ALLOW_ANY or REGISTRY_ONLY.
 */
async function noVirtualHost(deps: PipelineDeps, input: PipelineInput): Promise<Produced> {
  const { plan, target, state } = input;
  if (
    deps.tcp !== null &&
    target.scheme === 'https' &&
    (deps.tcpForTlsRulesOnly !== true || tlsRuleFor(plan, target) !== null)
  ) {
    const r = await sendOverApplicationTls(deps.tcp, plan, state, target, {
      method: input.method,
      headers: input.headers,
      body: input.body.data,
      signal: input.signal,
      ca: input.ca ?? null,
    });
    return { status: r.status, headers: { ...r.headers }, body: r.body, tcp: true };
  }
  const svc = plan.outbound.services[target.hostname];
  const known = svc?.ports.some((p) => p.number === target.port) === true;
  if (!known && plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY') {
    state.cluster = BLACKHOLE_CLUSTER;
    return local(state, blackHole(state));
  }
  // ALLOW_ANY's allow_any route is behind an HTTP codec, which counts before any routing.
  const refused = known ? null : codecRefusal(input);
  if (refused !== null) return local(state, refused);
  const cluster = known ? `outbound|${target.port}||${target.hostname}` : PASSTHROUGH_CLUSTER;
  state.cluster = cluster;
  if (known) state.service = target.hostname;
  // ALLOW_ANY goes out through the HTTP listener's `allow_any` route, whose connection
  // manager generates x-request-id, and whose metadata exchange filter runs, as for any
  // routed call.
  else {
    cleanRequestHeaders(input.headers);
    forwardProto(input.headers);
    forwardPort(input.headers, plan, target.port);
    ensureRequestId(input.headers, plan);
    sendPeerHeaders(input.headers, deps.peerHeaders, plan, null);
  }
  const r = await sendDirect(
    deps.transport,
    state,
    target,
    cluster,
    input.method,
    input.headers,
    input.body.data,
    input.signal,
  );
  if (r.kind === 'local') return local(state, r.reply);
  const produced = { status: r.status, headers: { ...r.headers }, body: r.body };
  if (known) return { ...produced, tcp: true };
  state.upstreamPeer = takePeerHeaders(produced.headers);
  return produced;
}

/**
 * The outbound pipeline in Envoy's order (DESIGN.md "Envoy order of policies",
 * spec/traffic.md §1, §3, §4): virtual host → route (`404 NR`) → redirect /
 * directResponse → fault (delay, then abort; outside the route timeout) → CORS (a
 * preflight answered) → weighted destination → cluster (`503 NC`) → endpoints (DNS when
 * none) → rewrite and request header operations → mirrors → router (timeouts, retries,
 * pool, transport) → `x-envoy-upstream-service-time`, response header operations, and
 * the CORS response headers.
 */
export async function runPipeline(deps: PipelineDeps, input: PipelineInput): Promise<Produced> {
  const { plan, target, state, headers } = input;
  const authority = headerValue(headers, 'host') ?? target.authority;
  const vhost = plan.outbound.lookup(authority, target.port);
  if (vhost === null) return noVirtualHost(deps, input);
  const refused = codecRefusal(input);
  if (refused !== null) return local(state, refused);
  cleanRequestHeaders(headers);
  forwardProto(headers);
  forwardPort(headers, plan, target.port);
  const rreq: RouteRequest = {
    method: input.method,
    scheme: target.scheme,
    authority,
    path: target.path,
    headers,
    claims: input.claims ?? null,
  };
  const route = plan.outbound.route(vhost, rreq);
  if (route === null) return local(state, noRoute());
  state.route = route.id;
  state.matchedRoute = route;
  state.matchedRequest = rreq;
  // The connection manager traces the request once it has the route (envoy
  // conn_manager_impl.cc traceRequest): x-envoy-decorator-operation goes upstream.
  state.observer?.routed(route, rreq, headers);
  const ruleOps = route.headers?.response ?? null;
  const action = route.action;
  // istiod's filter order puts fault before CORS before the router (listener_builder.go);
  // validation keeps faults off redirect and directResponse routes.
  if (action.kind === 'redirect' || action.kind === 'directResponse') {
    const cors = corsRequest(route.cors, input.method, headers);
    if (cors?.preflight != null) return local(state, cors.preflight);
    const reply =
      action.kind === 'redirect'
        ? redirectReply(action, target, authority, route, rreq)
        : localReply(action.status, action.body ?? '', null);
    const produced = local(state, reply, ruleOps);
    addCorsHeaders(produced.headers, cors);
    return produced;
  }

  const fault = decideFault(route.fault, deps.random);
  if (fault.delayMs > 0) {
    addFlag(state.flags, 'DI');
    await deps.clock.sleep(fault.delayMs, input.signal ?? undefined);
  }
  const dest = chooseDestination(action.destinations, deps.random, input.drawn);
  const cluster = dest === undefined ? null : plan.outbound.cluster(dest.cluster);
  if (fault.abort !== null) {
    // The route picked its cluster before the fault filter ran, so an abort is reported
    // against it (%UPSTREAM_CLUSTER%, destination_service), as Envoy's stream info has it.
    if (dest !== undefined) state.cluster = dest.cluster;
    if (cluster !== null) state.service = cluster.host;
    // envoy filter_manager.cc sendLocalReplyViaFilterChain runs the route entry's
    // finalizeResponseHeaders on every local reply, the fault filter's abort included.
    return local(state, fault.abort, ruleOps, dest?.headers?.response ?? null, action.weighted);
  }
  const cors = route.cors === null ? null : corsRequest(route.cors, input.method, headers);
  if (cors?.preflight != null) {
    // Not a local reply through the filter chain (the filter encodes its headers itself),
    // so no route header operations; reported against the route's cluster as an abort is.
    if (dest !== undefined) state.cluster = dest.cluster;
    if (cluster !== null) state.service = cluster.host;
    return local(state, cors.preflight);
  }
  const destOps = dest?.headers?.response ?? null;
  if (dest === undefined || cluster === null || cluster.status !== 'ok') {
    if (dest !== undefined) state.cluster = dest.cluster;
    const produced = local(state, noCluster(), ruleOps, destOps, action.weighted);
    addCorsHeaders(produced.headers, cors);
    return produced;
  }
  state.cluster = cluster.key;
  state.service = cluster.host;
  const found = upstreamFor(deps, plan, cluster, input.signal, target, authority);
  const upstream = found instanceof Promise ? await found : found;

  let path = target.path;
  // proxyHeaders.envoyDebugHeaders.disabled is the router's suppress_envoy_headers: no
  // x-envoy-original-path, -expected-rq-timeout-ms, -upstream-service-time or -overloaded.
  const debugHeaders = plan.meshConfig.proxyHeaders.envoyDebugHeaders;
  const rewritten = rewritePath(route, rreq, path);
  if (rewritten !== null) {
    if (debugHeaders) headers['x-envoy-original-path'] = path;
    path = rewritten;
  }
  rewriteHost(headers, plan, route, dest, !action.weighted, authority);
  // The exchange filter runs before the router applies the route's header operations.
  sendPeerHeaders(headers, deps.peerHeaders, plan, cluster.host);
  applyRouteHeaderOps(
    headers,
    route.headers?.request ?? null,
    dest.headers?.request ?? null,
    action.weighted,
  );
  const timeouts = callTimeouts(route, headers, debugHeaders);
  ensureRequestId(headers, plan);

  let policy = route.retries;
  if (policy !== null && policy.retries > 0 && input.body.notReplayable !== null) {
    state.retriesDisabled = input.body.notReplayable;
    policy = null;
  }
  const data = input.body.data;
  // An upgrade is not mirrored: a copy could not switch protocols with the client.
  if (route.mirrors.length > 0 && input.upgrade === undefined && (data === null || Buffer.isBuffer(data))) {
    sendMirrors(deps, plan.outbound, route.mirrors, input.method, path, headers, data);
  }

  const consistentHash = cluster.policy.loadBalancer.consistentHash;
  const issued = consistentHash === null ? null : cookieToIssue(consistentHash, headers, deps.random);
  const started = deps.clock.now();
  const r = await runRouter({
    state,
    clock: deps.clock,
    random: deps.random,
    policy,
    timeoutMs: timeouts.routeMs,
    perTryMs: timeouts.perTryMs,
    hashKey:
      issued !== null
        ? issued.value
        : consistentHash === null
          ? null
          : hashKeyOf(consistentHash, headers, path, () => sourceAddress(plan.workload)),
    callerSignal: input.signal,
    startedAt: started,
    request: {
      method: input.method,
      path,
      headers,
      body: data,
      upgrade: input.upgrade,
    },
    tryContext: {
      transport: deps.transport,
      clock: deps.clock,
      cluster,
      upstream,
      tlsFor: deps.tlsFor,
      countAttempts: plan.meshConfig.proxyHeaders.attemptCount,
    },
  });
  if (r.kind === 'local') {
    if (!debugHeaders) delete r.reply.headers['x-envoy-overloaded'];
    const produced = local(state, r.reply, ruleOps, destOps, action.weighted);
    addCorsHeaders(produced.headers, cors);
    return produced;
  }
  state.upstream = { host: cluster.host, subset: cluster.subset, address: r.host.id, cluster: cluster.key };
  state.upstreamLocalAddress = r.response.localAddress ?? null;
  state.upstreamConnection = r.response.connection ?? null;
  state.endpoint = r.host.endpoint;
  const out = copyHeaders(r.response.headers);
  if (debugHeaders) out['x-envoy-upstream-service-time'] = String(Math.round(deps.clock.now() - started));
  applyRouteHeaderOps(out, ruleOps, destOps, action.weighted);
  addCorsHeaders(out, cors);
  // The router adds the cookie it issued to the upstream's response (router.cc onUpstreamHeaders).
  if (issued !== null) {
    const had = out['set-cookie'];
    out['set-cookie'] =
      had === undefined ? issued.setCookie : [...(typeof had === 'string' ? [had] : had), issued.setCookie];
  }
  // The exchange filter sees the response after the router's header operations.
  state.upstreamPeer = takePeerHeaders(out);
  const upgraded = r.response.upgraded;
  return upgraded === undefined
    ? { status: r.response.status, headers: out, body: r.response.body }
    : { status: r.response.status, headers: out, body: r.response.body, upgraded };
}
