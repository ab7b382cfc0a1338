import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tcpMetadataExchange } from '../compile/istiod-features.js';
import {
  exchangeTcpMetadata,
  MX_ALPN,
  noExchangeBytes,
  type ExchangeBytes,
} from '../telemetry/metadata-exchange/tcp-exchange.js';
import type { Cluster, MeshPlan, RouteDestination } from '../compile/plan-types.js';
import type { Clock } from '../runtime/clock.js';
import type { Random } from '../runtime/random.js';
import { isIstioMutual } from '../telemetry/metrics/upstream-mtls.js';
import { chooseDestination } from './route-request.js';
import { netDial, type TcpDial } from './tcp-dial.js';
import type { TcpConnectionObserver } from './tcp-observer.js';
import { TransportError, type TransportTls } from './transport.js';
import { toTransportError } from './transports/failure.js';
import type { ClusterManager, UpstreamHost } from './upstream/types.js';

/** What a tcp_proxy runs on: the mesh's clusters, clock, random source and upstream TLS. */
export interface TcpUpstreamParts {
  readonly clusters: ClusterManager;
  /** The connect timeout and `maxConnectionDuration` run on it. */
  readonly clock: Clock;
  readonly random: Random;
  readonly tlsFor: (cluster: Cluster, host: UpstreamHost) => TransportTls | null;
  /** How connections are opened (default: the network). */
  readonly dial?: TcpDial;
  /** This workload's TCP metadata-exchange frame (tcp-exchange.ts); absent or null: no exchange. */
  readonly exchangeFrame?: Buffer | null;
}

/** The flags of a connection tcp_proxy gives up on before it has an upstream. */
export type TcpRefusal = 'NC' | 'UH' | 'UO' | 'UF';

/**
 * An upstream connection on its way: `conn` (writes are buffered until it is up) and
 * `connected`, true once it is, false when it failed (`UF`, reason on the observer).
 */
export type TcpUpstream =
  | {
      readonly ok: true;
      readonly conn: Socket;
      /** The cluster the weighted pick chose, and the endpoint its load balancer picked. */
      readonly cluster: Cluster;
      readonly host: UpstreamHost;
      readonly connected: Promise<boolean>;
      /** The metadata exchange's own bytes on `conn` (zero without one). */
      readonly exchange: ExchangeBytes;
    }
  | {
      readonly ok: false;
      readonly flag: TcpRefusal;
      /** `UF` before any connection: the TLS context could not be built (`%UPSTREAM_TRANSPORT_FAILURE_REASON%`). */
      readonly reason?: string;
    };

/**
 * The ALPN of Istio's mTLS for TCP: util.ALPNInMeshWithMxc with the metadata exchange,
 * util.ALPNInMesh without (cluster_tls.go).
 */
const ISTIO_TCP_ALPN = ['istio'];
const ISTIO_TCP_ALPN_MX = [MX_ALPN, 'istio'];
const NOTHING_TRIED: ReadonlySet<string> = new Set();

/**
 * Envoy's tcp_proxy up to its upstream connection (tcp_proxy.cc): a destination by
 * weight; `NC` when the plan lacks its cluster; an endpoint by the cluster's load
 * balancer, `UH` without a healthy one; `UO` at the cluster's `maxConnections` (no queue:
 * tcp_proxy checks `connections().canCreate()`); then the connection, over the cluster's
 * TLS (auto mTLS with the local identity, ALPN `istio`, to a mesh workload) or plain TCP,
 * `UF` when it is refused, reset or not up within `connectTimeout`. Outlier detection
 * hears the connect failure or timeout, and a connection made
 * (`LocalOriginConnectSuccessFinal`). The endpoint's busy mark and pool slot are released
 * when the connection closes.
 */
export function openTcpUpstream(
  parts: TcpUpstreamParts,
  plan: MeshPlan,
  destinations: readonly RouteDestination[],
  observer: TcpConnectionObserver | null,
  downstream: Socket | null = null,
): TcpUpstream {
  const dest = chooseDestination(destinations, parts.random);
  const cluster = dest === undefined ? null : plan.outbound.cluster(dest.cluster);
  if (cluster === null || cluster.status !== 'ok') return refuse(observer, 'NC');
  const upstream = parts.clusters.get(cluster);
  const host = upstream.pick({ exclude: NOTHING_TRIED, hashKey: null });
  observer?.routed(plan, cluster, host);
  if (host === null) return refuse(observer, 'UH');
  const admission = upstream.tryAdmit?.() ?? null;
  // A pool that would queue the connection is full for tcp_proxy, which never waits.
  if ((admission !== null && !admission.ok) || (admission === null && upstream.tryAdmit !== undefined))
    return refuse(observer, 'UO');
  const ticket = admission?.ok === true ? admission.ticket : null;
  const idle = upstream.begin(host);
  let built: TransportTls | null;
  try {
    built = parts.tlsFor(cluster, host);
  } catch (err) {
    // A credential not mounted: Envoy's not-ready TLS socket fails the connection (UF).
    idle();
    ticket?.release();
    upstream.record(host, { kind: 'local-failure', failure: 'connect-failure' });
    const reason = err instanceof TransportError ? err.transportFailureReason : null;
    observer?.flag('UF');
    observer?.failed(reason);
    return { ok: false, flag: 'UF', ...(reason === null ? {} : { reason }) };
  }
  const tls = built;
  // Istio's own mTLS carries a TCP stream under ALPN `istio` (and `istio-peer-exchange`);
  // other TLS keeps its own.
  const istioMtls = tls !== null && tls.alpn?.includes('istio') === true;
  // This workload's exchange frame when the connection offers the exchange, else null.
  const frame = istioMtls && tcpMetadataExchange(plan.istiodFeatures) ? (parts.exchangeFrame ?? null) : null;
  const dialed = (parts.dial ?? netDial)(
    host.endpoint,
    istioMtls ? { ...tls, alpn: frame !== null ? ISTIO_TCP_ALPN_MX : ISTIO_TCP_ALPN } : tls,
  );
  const conn = dialed.socket;
  const exchangeBytes = noExchangeBytes();
  let settle: (up: boolean) => void = () => undefined;
  const connected = new Promise<boolean>((resolve) => (settle = resolve));
  let up = false;
  const timeoutMs = cluster.policy.connectionPool.tcp.connectTimeoutMs;
  const { clock } = parts;
  const timer =
    timeoutMs > 0
      ? clock.setTimeout(() => {
          upstream.record(host, { kind: 'local-failure', failure: 'connect-timeout' });
          observer?.flag('UF');
          settle(false);
          conn.destroy();
        }, timeoutMs)
      : null;
  conn.once(dialed.up, () => {
    up = true;
    // The upstream metadata_exchange filter: its frame goes out first, the peer's is read
    // off the front of what comes back (tcp-exchange.ts).
    if (frame !== null) {
      if (dialed.exchangedPeer !== undefined) observer?.peerMetadata(dialed.exchangedPeer());
      else if ((conn as TLSSocket).alpnProtocol === MX_ALPN)
        exchangeTcpMetadata(conn, frame, (m) => observer?.peerMetadata(m), exchangeBytes);
    }
    if (timer !== null) clock.clearTimeout(timer);
    upstream.record(host, { kind: 'response', status: 200 });
    observer?.connected(isIstioMutual(tls), conn);
    settle(true);
  });
  conn.on('error', (err) => {
    if (up) return;
    const failure = toTransportError(err, { aborted: false, beforeRequestSent: true });
    upstream.record(host, {
      kind: 'local-failure',
      failure: failure.failure === 'connect-timeout' ? 'connect-timeout' : 'connect-failure',
    });
    observer?.flag('UF');
    observer?.failed(failure.transportFailureReason);
    settle(false);
  });
  const stopLimits = connectionLimits(cluster, clock, conn, downstream, observer);
  conn.once('close', () => {
    if (timer !== null) clock.clearTimeout(timer);
    stopLimits();
    idle();
    ticket?.release();
    settle(false);
  });
  return { ok: true, conn, cluster, host, connected, exchange: exchangeBytes };
}

/**
 * The tcp_proxy's own limits, as istiod sets them from the DestinationRule
 * (networkfilter.go `buildOutboundNetworkFiltersWithSingleDestination`): `idleTimeout`
 * (1 h by default) closes a connection that carried no byte either way for that long
 * (Node's per-socket inactivity, on both sockets, stands for Envoy's), and
 * `maxConnectionDuration` closes it once it is that old, flag `DT`. The upstream socket
 * gets `tcpKeepalive.time`. Returns what stops the duration timer.
 */
function connectionLimits(
  cluster: Cluster,
  clock: Clock,
  conn: Socket,
  downstream: Socket | null,
  observer: TcpConnectionObserver | null,
): () => void {
  const tcp = cluster.policy.connectionPool.tcp;
  const end = (): void => {
    conn.destroy();
    downstream?.destroy();
  };
  if (tcp.idleTimeoutMs > 0) {
    conn.setTimeout(tcp.idleTimeoutMs, end);
    downstream?.setTimeout(tcp.idleTimeoutMs, end);
  }
  if (tcp.keepaliveTimeMs !== null) conn.setKeepAlive(true, tcp.keepaliveTimeMs);
  const max = tcp.maxConnectionDurationMs;
  if (max === null || max <= 0) return () => undefined;
  const timer = clock.setTimeout(() => {
    observer?.flag('DT');
    end();
  }, max);
  return () => clock.clearTimeout(timer);
}

function refuse(observer: TcpConnectionObserver | null, flag: TcpRefusal): TcpUpstream {
  observer?.flag(flag);
  return { ok: false, flag };
}
