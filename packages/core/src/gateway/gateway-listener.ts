import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { trace } from '@opentelemetry/api';
import type { MeshPlan } from '../compile/plan-types.js';
import type { Random } from '../runtime/random.js';
import { splitAuthority } from '../compile/domains.js';
import type { InboundDecision } from '../inbound/engine-types.js';
import type { InboundHandle } from '../inbound/handle.js';
import { decideNodeRequest } from '../inbound/node-decide.js';
import { rewriteXfcc, xfccModeOf } from '../inbound/server/xfcc.js';
import { clientCertElement, tlsPeer } from './gateway-peer.js';
import { applyRequestHeaderEdits } from '../inbound/node-headers.js';
import type { GatewayReply, OutboundClient } from '../outbound/client.js';
import type { MeshResponse } from '../outbound/response.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { runWithInboundContext } from '../telemetry/tracing/request-context.js';
import { gatewayRequestHeaders, isEncrypted } from './gateway-request.js';
import { connectionRouteName } from './server-route.js';
import { gatewayRouteTarget } from './gateway-route-target.js';
import { refuseAtGatewayCodec } from './gateway-codec-refusal.js';
import { upgradedOf } from '../outbound/upgraded-response.js';
import { clientGoneSignal, relayedBody, relayFailure, relayResponse } from '../outbound/relay-response.js';
import {
  acceptUpgrade,
  h2cBody,
  joinUpgraded,
  UPGRADE_FAILED,
  upgradeToken,
  type ClientUpgrade,
  type UpgradeListener,
} from '../outbound/upgrade-relay.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * `mesh.gateway()`: the request listener, with `upgrade`, the listener for node's `upgrade`
 * event, which proxies WebSockets (`server.on('upgrade', listener.upgrade)`).
 */
export interface GatewayListener extends RequestListener {
  readonly upgrade: UpgradeListener;
}

/** What a gateway listener runs on: the mesh's parts. */
export interface GatewayParts {
  readonly getPlan: () => MeshPlan;
  /** The mesh's random source: a request's weighted route draw. */
  readonly random: Random;
  /** The outbound client's `forward`. */
  readonly forward: OutboundClient['forward'];
  readonly inbound: InboundHandle;
  readonly telemetry: MeshTelemetry | null;
  /**
   * Whether `forward` can carry an upgrade (the mesh's transport has `upgrade`); false
   * refuses WebSockets as a connection manager without that upgrade does. Default true.
   */
  readonly upgrades?: boolean;
  /** The client connections of the WebSockets it relays, which `mesh.close()` closes. */
  readonly tunnels?: Set<Duplex>;
}

/**
 * A Node request listener that runs this workload as an Istio ingress gateway on one
 * Gateway server port: the gateway's own filters first (RequestAuthentication,
 * AuthorizationPolicy and local rate limits that select it, through the inbound engine),
 * then routing by the VirtualServices bound to its Gateways, with the outbound
 * pipeline's retries, timeouts, faults, load balancing and mTLS to the upstream. Each
 * request is measured once, as istiod configures a gateway (CLIENT mode: `reporter="source"`,
 * a CLIENT span, the client access log line), its own replies included.
 */
export function createGatewayListener(parts: GatewayParts, port: number): GatewayListener {
  // The gateway measures requests on its outbound side only (model/telemetry.go workloadMode).
  const inbound = parts.inbound;
  const handle: InboundHandle = {
    decide: (r) => inbound.decide(r),
    // A socket the mesh server accepted has its peer registered; the gateway's own TLS
    // listener (listenGateway) knows it from the verified client certificate.
    peerOf: (s) => inbound.peerOf(s) ?? tlsPeer(s),
    ...(inbound.decideNow === undefined ? {} : { decideNow: (r) => inbound.decideNow!(r) }),
  };
  const serve = (req: IncomingMessage, res: ServerResponse, upgrade: ClientUpgrade | null): void => {
    // The connection manager's X-Forwarded-Client-Cert handling runs before any filter:
    // gatewayTopology.forwardClientCertDetails, SANITIZE_SET when unset (istio gateway.go).
    rewriteXfcc(req, clientCertElement(req.socket), () => xfccModeOf(parts.getPlan()));
    // The request's weighted route draw (Envoy's stream random value), made when a filter
    // first asks for its route; the router then draws the same cluster.
    let drawn: number | undefined;
    const draw = (): number => (drawn ??= parts.random.next());
    decideNodeRequest(
      handle,
      req,
      res,
      (decision) => {
        void forward(parts, port, req, res, decision, drawn, upgrade).catch((err: unknown) => fail(res, err));
      },
      (err) => fail(res, err),
      undefined,
      (r) => gatewayRouteTarget(parts.getPlan(), port, req.socket, isEncrypted(req), r, draw),
    );
  };
  const onRequest: RequestListener = (req, res) => serve(req, res, null);
  const upgrade: UpgradeListener = (req, socket, head) => {
    const { res, client } = acceptUpgrade(req, socket, head);
    serve(req, res, client);
  };
  return Object.assign(onRequest, { upgrade });
}

async function forward(
  parts: GatewayParts,
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
  decision: InboundDecision,
  drawn: number | undefined,
  upgrade: ClientUpgrade | null,
): Promise<void> {
  if (!decision.allow && (decision.reason.stage === 'codec' || decision.reason.stage === 'connection')) {
    refuseAtGatewayCodec(parts.telemetry, req, res, decision);
    return;
  }
  const plan = parts.getPlan();
  const token = upgrade === null ? null : upgradeToken(req, parts.upgrades !== false);
  // The path as meshConfig pathNormalization made it: what authorization checked, what the
  // routes match and what goes upstream (Envoy's connection manager rewrites :path).
  const target = decision.allow ? decision.url : (req.url ?? '/');
  let answered: GatewayReply | null = null;
  // The engine refused other tokens already (normalize/upgrade-check.ts); left is a
  // websocket the transport cannot carry.
  if (token === 'refused') answered = UPGRADE_FAILED;
  else if (!decision.allow) {
    answered = {
      status: decision.status,
      headers: decision.headers,
      body: decision.body,
      flags: decision.flags,
    };
  } else {
    applyRequestHeaderEdits(req, decision.removeHeaders, decision.setHeaders);
    const authority = req.headers.host ?? '';
    const vhost = plan.gateway?.routes.lookup(authority, port);
    // A `tls.httpsRedirect` server's hosts: Envoy's `require_tls: ALL` answers a plaintext
    // request with a 301 to the same host and path over https (router config_impl.cc
    // SslRedirector).
    if (vhost?.requireTls === true && !isEncrypted(req)) {
      answered = {
        status: 301,
        headers: { location: `https://${authority}${target}` },
        body: '',
        flags: [],
      };
    }
  }
  const headers = gatewayRequestHeaders(
    req,
    plan.meshConfig.numTrustedProxies,
    plan.meshConfig.proxyHeaders.requestId,
  );
  const host = splitAuthority(req.headers.host ?? '').host;
  const urlHost = /^[a-z0-9.-]+$/.test(host) ? host : 'gateway.invalid';
  const url = `${isEncrypted(req) ? 'https' : 'http'}://${urlHost}:${port}${target}`;
  if (token === 'h2c') delete headers['http2-settings'];
  const body =
    answered !== null
      ? (req.resume(), undefined)
      : upgrade === null
        ? await relayedBody(req)
        : token === 'h2c'
          ? ((await h2cBody(req, upgrade)) ?? undefined)
          : undefined;
  const init = {
    method: req.method ?? 'GET',
    headers,
    signal: clientGoneSignal(res, 'the client closed the connection'),
    ...(body === undefined ? {} : { body }),
  };
  const claims = decision.allow ? (decision.context.auth?.claims ?? null) : null;
  const routeName = connectionRouteName(plan, port, req.socket);
  const websocket = answered === null && token === 'websocket';
  const call = (): Promise<MeshResponse> =>
    parts.forward(url, init, {
      answered,
      claims,
      routeName,
      ...(drawn === undefined ? {} : { drawn }),
      ...(websocket ? { upgrade: 'websocket' } : {}),
    });
  // A trace the client started continues through the gateway.
  const extracted = parts.telemetry?.tracing.propagation.extract(headers, false) ?? null;
  const response =
    extracted !== null && trace.getSpanContext(extracted.context) !== undefined
      ? await runWithInboundContext({ trace: extracted.context, requestId: extracted.requestId }, call)
      : await call();
  const extra = decision.allow ? decision.responseHeaders : {};
  const upstream = upgradedOf(response);
  if (upgrade !== null && upstream !== null)
    joinUpgraded(res, upgrade, response, upstream, extra, parts.tunnels);
  else relayResponse(res, response, extra);
}

function fail(res: ServerResponse, err: unknown): void {
  relayFailure(res, err, 500, 'meshlet gateway');
}
