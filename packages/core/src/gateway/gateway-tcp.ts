import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Cluster, GatewayTlsChain, MeshPlan, RouteDestination } from '../compile/plan-types.js';
import { sniffFirstBytes } from '../inbound/server/sniff.js';
import { chooseDestination } from '../outbound/route-request.js';
import type { TransportTls } from '../outbound/transport.js';
import { clientTlsOptions } from '../outbound/transports/tls-options.js';
import type { ClusterManager, UpstreamHost } from '../outbound/upstream/types.js';
import type { Random } from '../runtime/random.js';

/** What a gateway's TCP proxy runs on: the mesh's plan, clusters, random source and upstream TLS. */
export interface GatewayTcpParts {
  readonly getPlan: () => MeshPlan;
  readonly clusters: ClusterManager;
  readonly random: Random;
  readonly tlsFor: (cluster: Cluster, host: UpstreamHost) => TransportTls | null;
}

/** The ALPN of Istio's mTLS for TCP without metadata exchange (istio util.ALPNInMesh). */
const ISTIO_TCP_ALPN = ['istio'];
const NOTHING_TRIED: ReadonlySet<string> = new Set();
/** Envoy's default listener_filters_timeout: a client that sends no ClientHello within it is closed. */
const LISTENER_FILTER_TIMEOUT_MS = 15_000;

/**
 * The connection handler of one plain TCP server port: Envoy's tcp_proxy with the weighted
 * clusters of the port's `tcp` route (gateway.go buildGatewayNetworkFiltersFromTCPRoutes).
 * A port no rule routes closes its connections, as Envoy does without a filter chain.
 */
export function gatewayTcpHandler(parts: GatewayTcpParts, port: number): (socket: Socket) => void {
  return (socket) => {
    socket.on('error', () => socket.destroy());
    const plan = parts.getPlan();
    const route = plan.gateway?.tcp.find((r) => r.port === port);
    proxy(parts, plan, socket, route?.destinations ?? []);
  };
}

/**
 * The connection handler of one TLS PASSTHROUGH server port: Envoy's tls_inspector reads the
 * ClientHello's SNI (within the listener filter timeout, 15 s), the filter chain whose
 * `sniHosts` name it (an exact name, else the longest `*.` wildcard, else `*`) is chosen,
 * and its tcp_proxy relays the still-encrypted stream, hello included. A connection no
 * chain takes (no SNI and no `*` chain, or a name none claims) is closed.
 */
export function gatewayPassthroughHandler(parts: GatewayTcpParts, port: number): (socket: Socket) => void {
  return (socket) => {
    socket.on('error', () => socket.destroy());
    socket.setTimeout(LISTENER_FILTER_TIMEOUT_MS, () => socket.destroy());
    sniffFirstBytes(socket, (hello) => {
      socket.setTimeout(0);
      if (socket.destroyed) return;
      const plan = parts.getPlan();
      const chains = plan.gateway?.tls.find((t) => t.port === port)?.chains ?? [];
      const chain = chainFor(chains, hello.serverName);
      proxy(parts, plan, socket, chain?.destinations ?? []);
    });
  };
}

/** How well `sniHost` claims `name`: exact beats the longest wildcard beats `*`; -1 not at all. */
function sniScore(sniHost: string, name: string | null): number {
  if (sniHost === '*') return 0;
  if (name === null) return -1;
  if (sniHost === name) return Number.MAX_SAFE_INTEGER;
  return sniHost.startsWith('*.') && name.endsWith(sniHost.slice(1)) ? sniHost.length : -1;
}

/**
 * Envoy's filter chain match on server names: exact, then the longest wildcard suffix, then a
 * chain with `*`, for which istiod writes no server_names (listener.go), so it also takes a
 * connection without SNI.
 */
function chainFor(chains: readonly GatewayTlsChain[], name: string | null): GatewayTlsChain | null {
  let best: GatewayTlsChain | null = null;
  let bestScore = -1;
  for (const c of chains) {
    for (const h of c.sniHosts) {
      const score = sniScore(h, name);
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
  }
  return best;
}

/**
 * Relays `socket` to one of `destinations`, picked by weight, at an endpoint the cluster's
 * load balancer picks, over the cluster's TLS (auto mTLS with the gateway's identity to a
 * mesh workload) or plain TCP, bytes both ways until either side ends; half-closes pass
 * through. No destination, a missing cluster or no healthy endpoint closes the connection
 * (Envoy: no filter chain, or `UH`).
 */
function proxy(
  parts: GatewayTcpParts,
  plan: MeshPlan,
  socket: Socket,
  destinations: readonly RouteDestination[],
): void {
  const dest = chooseDestination(destinations, parts.random);
  const cluster = dest === undefined ? null : plan.outbound.cluster(dest.cluster);
  if (cluster === null || cluster.status !== 'ok') {
    socket.destroy();
    return;
  }
  const upstream = parts.clusters.get(cluster);
  const host = upstream.pick({ exclude: NOTHING_TRIED, hashKey: null });
  if (host === null) {
    socket.destroy();
    return;
  }
  const idle = upstream.begin(host);
  const tls = parts.tlsFor(cluster, host);
  const { address, port: upstreamPort } = host.endpoint;
  const conn =
    tls === null
      ? netConnect({ host: address, port: upstreamPort })
      : tlsConnect({
          ...clientTlsOptions(
            // Istio's own mTLS carries a TCP stream under ALPN `istio`; other TLS keeps its own.
            tls.alpn?.includes('istio') === true ? { ...tls, alpn: ISTIO_TCP_ALPN } : tls,
            { verifyPeer: tls.verifyPeer },
          ),
          host: address,
          port: upstreamPort,
        });
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    idle();
    socket.destroy();
    conn.destroy();
  };
  conn.on('error', close);
  conn.on('close', close);
  socket.on('close', close);
  socket.pipe(conn);
  conn.pipe(socket);
}
