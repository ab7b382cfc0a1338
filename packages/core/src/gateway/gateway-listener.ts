import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { trace } from '@opentelemetry/api';
import type { GatewayPlan, MeshPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { splitAuthority } from '../compile/domains.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { InboundDecision } from '../inbound/engine-types.js';
import type { InboundHandle } from '../inbound/handle.js';
import { decideNodeRequest } from '../inbound/node-decide.js';
import { GATEWAY_CLIENT_CERT_DETAILS, rewriteXfcc, xfccElement, xfccModeOf } from '../inbound/server/xfcc.js';
import { parseSpiffeId, uriSans } from '../identity/spiffe.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import { applyRequestHeaderEdits } from '../inbound/node-headers.js';
import type { GatewayReply, OutboundClient } from '../outbound/client.js';
import type { MeshResponse } from '../outbound/response.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { runWithInboundContext } from '../telemetry/tracing/request-context.js';
import { gatewayBody, gatewayRequestHeaders, isEncrypted } from './gateway-request.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What a gateway listener runs on: the mesh's parts. */
export interface GatewayParts {
  readonly getPlan: () => MeshPlan;
  /** The outbound client's `forward`. */
  readonly forward: OutboundClient['forward'];
  readonly inbound: InboundHandle;
  readonly telemetry: MeshTelemetry | null;
}

/** Response headers a proxy does not copy from the upstream's response. */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/**
 * The Gateway server port a listener for workload `w` serves: `port` when one of its
 * Gateways (`gw`, the plan's) has an HTTP server there, else the only HTTP server port.
 * Throws `MESHLET_ERR_MESH_OPTIONS` saying what to fix.
 */
export function gatewayPort(
  w: WorkloadIdentity,
  gw: Pick<GatewayPlan, 'gateways' | 'servers'> | null | undefined,
  port: number | undefined,
): number {
  if (gw === null || gw === undefined) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.gateway: workload ${w.namespace}/${w.name} is not a gateway; give it the labels a Gateway's selector names (e.g. istio: ingressgateway)`,
      { option: 'gateway' },
    );
  }
  const ports = [...new Set(gw.servers.filter((s) => s.http).map((s) => s.port))].sort((a, b) => a - b);
  if (port === undefined) {
    if (ports.length === 1) return ports[0]!;
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      ports.length === 0
        ? `mesh.gateway: no Gateway selecting ${w.namespace}/${w.name} has an HTTP server (Gateways: ${gw.gateways.map((g) => `${g.namespace}/${g.name}`).join(', ') || 'none'})`
        : `mesh.gateway: the Gateways have HTTP servers on ports ${ports.join(', ')}; pass { port } to say which one this listener serves`,
      { option: 'gateway.port' },
    );
  }
  if (!Number.isInteger(port) || !ports.includes(port)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.gateway: no Gateway server serves HTTP on port ${String(port)} (HTTP server ports: ${ports.join(', ') || 'none'})`,
      { option: 'gateway.port' },
    );
  }
  return port;
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
export function createGatewayListener(parts: GatewayParts, port: number): RequestListener {
  // The gateway measures requests on its outbound side only (model/telemetry.go workloadMode).
  const inbound = parts.inbound;
  const handle: InboundHandle = {
    decide: (r) => inbound.decide(r),
    // A socket the mesh server accepted has its peer registered; the gateway's own TLS
    // listener (listenGateway) knows it from the verified client certificate.
    peerOf: (s) => inbound.peerOf(s) ?? tlsPeer(s),
    ...(inbound.decideNow === undefined ? {} : { decideNow: (r) => inbound.decideNow!(r) }),
  };
  return (req, res) => {
    // The connection manager's X-Forwarded-Client-Cert handling runs before any filter:
    // gatewayTopology.forwardClientCertDetails, SANITIZE_SET when unset (istio gateway.go).
    rewriteXfcc(req, clientCertElement(req.socket), () => xfccModeOf(parts.getPlan()));
    decideNodeRequest(
      handle,
      req,
      res,
      (decision) => {
        void forward(parts, port, req, res, decision).catch((err: unknown) => fail(res, err));
      },
      (err) => fail(res, err),
    );
  };
}

/** The SPIFFE identity of each TLS connection's verified client certificate. */
const peers = new WeakMap<Socket, PeerIdentity | null>();

/**
 * The caller's identity on a connection whose client certificate the gateway verified
 * (MUTUAL, ISTIO_MUTUAL): its first SPIFFE URI SAN, as Envoy's RBAC reads `source.principal`
 * from the peer certificate; null on plaintext or without one.
 */
function tlsPeer(socket: Socket): PeerIdentity | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true) return null;
  let peer = peers.get(socket);
  if (peer === undefined) {
    const cert = tls.getPeerX509Certificate?.();
    const uri =
      cert === undefined ? undefined : uriSans(cert.subjectAltName).find((u) => u.startsWith('spiffe://'));
    peer = uri === undefined ? null : parseSpiffeId(uri);
    peers.set(socket, peer);
  }
  return peer;
}

/** The XFCC element of each TLS connection that presented a verified client certificate. */
const elements = new WeakMap<Socket, string | null>();

/**
 * The element Envoy writes for a verified client certificate (xfcc.ts `xfccElement`), with
 * the Subject, Cert, URI and DNS details istiod asks of a gateway and `By=` the URI SAN of
 * the certificate the gateway served; null on plaintext or without a verified certificate.
 */
function clientCertElement(socket: Socket): string | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true) return null;
  let element = elements.get(socket);
  if (element === undefined) {
    const peer = tls.getPeerX509Certificate?.();
    const own = tls.getX509Certificate?.();
    element =
      peer === undefined
        ? null
        : xfccElement(
            peer,
            own === undefined ? null : (uriSans(own.subjectAltName)[0] ?? null),
            GATEWAY_CLIENT_CERT_DETAILS,
          );
    elements.set(socket, element);
  }
  return element;
}

async function forward(
  parts: GatewayParts,
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
  decision: InboundDecision,
): Promise<void> {
  const plan = parts.getPlan();
  // The path as meshConfig pathNormalization made it: what authorization checked, what the
  // routes match and what goes upstream (Envoy's connection manager rewrites :path).
  const target = decision.allow ? decision.url : (req.url ?? '/');
  let answered: GatewayReply | null = null;
  if (!decision.allow) {
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
  const headers = gatewayRequestHeaders(req, plan.meshConfig.numTrustedProxies);
  const host = splitAuthority(req.headers.host ?? '').host;
  const urlHost = /^[a-z0-9.-]+$/.test(host) ? host : 'gateway.invalid';
  const url = `${isEncrypted(req) ? 'https' : 'http'}://${urlHost}:${port}${target}`;
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new Error('the client closed the connection'));
  });
  const body = answered === null ? await gatewayBody(req) : (req.resume(), undefined);
  const init = {
    method: req.method ?? 'GET',
    headers,
    signal: abort.signal,
    ...(body === undefined ? {} : { body }),
  };
  const claims = decision.allow ? (decision.context.auth?.claims ?? null) : null;
  const call = (): Promise<MeshResponse> => parts.forward(url, init, { answered, claims });
  // A trace the client started continues through the gateway.
  const extracted = parts.telemetry?.tracing.propagation.extract(headers, false) ?? null;
  const response =
    extracted !== null && trace.getSpanContext(extracted.context) !== undefined
      ? await runWithInboundContext({ trace: extracted.context, requestId: extracted.requestId }, call)
      : await call();
  write(res, response, decision.allow ? decision.responseHeaders : {});
}

function write(
  res: ServerResponse,
  r: MeshResponse,
  extra: Readonly<Record<string, string | string[]>>,
): void {
  const out: Record<string, string | string[]> = {};
  r.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !HOP_BY_HOP_RESPONSE.has(name)) out[name] = value;
  });
  const cookies = r.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value;
  res.writeHead(r.status, out);
  pipeline(r.body, res, () => {});
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  if (res.destroyed) return;
  const body = `meshlet gateway: ${err instanceof Error ? err.message : String(err)}`;
  res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
