import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Cluster, MeshPlan, RouteDestination } from '../compile/plan-types.js';
import { sniffFirstBytes } from '../inbound/server/sniff.js';
import { chooseDestination } from '../outbound/route-request.js';
import type { TransportTls } from '../outbound/transport.js';
import { toTransportError } from '../outbound/transports/failure.js';
import { clientTlsOptions } from '../outbound/transports/tls-options.js';
import type { ClusterManager, UpstreamHost } from '../outbound/upstream/types.js';
import type { Random } from '../runtime/random.js';
import { isIstioMutual } from '../telemetry/metrics/upstream-mtls.js';
import type { TcpConnectionObserver, TcpObserverFactory } from './gateway-tcp-observer.js';
import { matchServerName } from './sni-match.js';

/** What a gateway's TCP proxy runs on: the mesh's plan, clusters, random source and upstream TLS. */
export interface GatewayTcpParts {
  readonly getPlan: () => MeshPlan;
  readonly clusters: ClusterManager;
  readonly random: Random;
  readonly tlsFor: (cluster: Cluster, host: UpstreamHost) => TransportTls | null;
  /** Each proxied connection's `istio_tcp_*` metrics; absent when telemetry is off. */
  readonly observe?: TcpObserverFactory;
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
 * Relays `socket` to one of `destinations`, picked by weight, at an endpoint the cluster's
 * load balancer picks, over the cluster's TLS (auto mTLS with the gateway's identity to a
 * mesh workload) or plain TCP, bytes both ways until either side ends; half-closes pass
 * through. No destination closes the connection (Envoy: no filter chain). Otherwise it is
 * Envoy's tcp_proxy (tcp_proxy.cc): a cluster the plan lacks is `NC`, no healthy endpoint
 * `UH`, the cluster's `maxConnections` reached `UO` (no queue: tcp_proxy checks
 * `connections().canCreate()`), a connection refused, reset or not up within
 * `connectTimeout` `UF`; each closes the downstream. Outlier detection hears a connect
 * failure or timeout, and a connection made (`LocalOriginConnectSuccessFinal`).
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
    socket.on('data', (chunk: Buffer) => observer.received(chunk.length));
    socket.once('close', () => observer.closed());
  }
  const dest = chooseDestination(destinations, parts.random);
  if (dest === undefined) {
    observer?.noRoute();
    socket.destroy();
    return;
  }
  const cluster = plan.outbound.cluster(dest.cluster);
  if (cluster === null || cluster.status !== 'ok') {
    fail(socket, observer, 'NC');
    return;
  }
  const upstream = parts.clusters.get(cluster);
  const host = upstream.pick({ exclude: NOTHING_TRIED, hashKey: null });
  observer?.routed(plan, cluster, host);
  if (host === null) {
    fail(socket, observer, 'UH');
    return;
  }
  const admission = upstream.tryAdmit?.() ?? null;
  if (admission !== null && !admission.ok) {
    fail(socket, observer, 'UO');
    return;
  }
  // A pool that would queue the connection is full for tcp_proxy, which never waits.
  if (admission === null && upstream.tryAdmit !== undefined) {
    fail(socket, observer, 'UO');
    return;
  }
  const ticket = admission?.ticket ?? null;
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
  let up = false;
  let closed = false;
  const connectTimeoutMs = cluster.policy.connectionPool.tcp.connectTimeoutMs;
  const connectTimer =
    connectTimeoutMs > 0
      ? setTimeout(() => {
          upstream.record(host, { kind: 'local-failure', failure: 'connect-timeout' });
          observer?.flag('UF');
          close();
        }, connectTimeoutMs)
      : null;
  connectTimer?.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (connectTimer !== null) clearTimeout(connectTimer);
    idle();
    ticket?.release();
    socket.destroy();
    conn.destroy();
  };
  conn.once(tls === null ? 'connect' : 'secureConnect', () => {
    up = true;
    if (connectTimer !== null) clearTimeout(connectTimer);
    upstream.record(host, { kind: 'response', status: 200 });
    observer?.connected(isIstioMutual(tls), conn);
  });
  conn.on('error', (err) => {
    if (!up && !closed) {
      const failure = toTransportError(err, { aborted: false, beforeRequestSent: true });
      upstream.record(host, {
        kind: 'local-failure',
        failure: failure.failure === 'connect-timeout' ? 'connect-timeout' : 'connect-failure',
      });
      observer?.flag('UF');
      observer?.failed(failure.transportFailureReason);
    }
    close();
  });
  conn.on('close', close);
  socket.on('close', close);
  if (observer !== null) conn.on('data', (chunk: Buffer) => observer.sent(chunk.length));
  socket.pipe(conn);
  conn.pipe(socket);
}

/** A connection the proxy gives up on before any upstream: its flag, then close. */
function fail(socket: Socket, observer: TcpConnectionObserver | null, flag: 'NC' | 'UH' | 'UO'): void {
  observer?.flag(flag);
  socket.destroy();
}
