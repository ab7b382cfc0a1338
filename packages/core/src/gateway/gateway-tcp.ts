import type { Socket } from 'node:net';
import type { MeshPlan, RouteDestination } from '../compile/plan-types.js';
import { sniffFirstBytes } from '../inbound/server/sniff.js';
import type { TcpObserverFactory } from '../outbound/tcp-observer.js';
import { openTcpUpstream, type TcpUpstreamParts } from '../outbound/tcp-upstream.js';
import { LISTENER_FILTER_TIMEOUT_MS } from './servers-tls.js';
import { matchServerName } from './sni-match.js';

/** What a gateway's TCP proxy runs on: the mesh's plan, clusters, random source and upstream TLS. */
export interface GatewayTcpParts extends TcpUpstreamParts {
  readonly getPlan: () => MeshPlan;
  /** Each proxied connection's `istio_tcp_*` metrics and access log; absent when telemetry is off. */
  readonly observe?: TcpObserverFactory;
}

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
    proxy(parts, plan, socket, route?.destinations ?? [], null);
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
      const chain = matchServerName(
        chains.map((c) => ({ names: c.sniHosts, value: c })),
        hello.serverName,
      );
      proxy(parts, plan, socket, chain?.destinations ?? [], hello.serverName);
    });
  };
}

/**
 * Relays `socket` to one of `destinations` through Envoy's tcp_proxy (tcp-upstream.ts:
 * weighted destination, load balancer, auto mTLS, `NC`/`UH`/`UO`/`UF`), bytes both ways
 * until either side ends; half-closes pass through. No destination closes the connection
 * (Envoy: no filter chain; only the listener's access log hears of it, `NR`).
 */
function proxy(
  parts: GatewayTcpParts,
  plan: MeshPlan,
  socket: Socket,
  destinations: readonly RouteDestination[],
  serverName: string | null,
): void {
  const observer = parts.observe?.(socket) ?? null;
  if (observer !== null) {
    observer.serverName(serverName);
    observer.meter(() => ({ received: socket.bytesRead, sent: socket.bytesWritten }));
    socket.once('close', () => observer.closed());
  }
  if (destinations.length === 0) {
    observer?.noRoute();
    socket.destroy();
    return;
  }
  const upstream = openTcpUpstream(parts, plan, destinations, observer, socket);
  if (!upstream.ok) {
    socket.destroy();
    return;
  }
  const conn = upstream.conn;
  const close = (): void => {
    socket.destroy();
    conn.destroy();
  };
  conn.on('error', close);
  conn.on('close', close);
  socket.on('close', close);
  conn.pipe(socket);
  // tcp_proxy reads the downstream once the upstream is up (its readDisable until
  // onUpstreamConnected), so an upstream metadata exchange frame goes out first.
  void upstream.connected.then((up) => {
    if (up) socket.pipe(conn);
  });
}
