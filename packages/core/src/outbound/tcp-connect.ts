import type { Socket } from 'node:net';
import { sniOf } from './request-input.js';
import type { Cluster, MeshPlan, TcpRoute } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { netDial, untilUp } from './tcp-dial.js';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER } from './passthrough.js';
import type { TcpObserverFactory } from './tcp-observer.js';
import { openTcpUpstream, type TcpUpstreamParts } from './tcp-upstream.js';
import type { UpstreamHost } from './upstream/types.js';

/** What `mesh.connect` runs on. */
export interface TcpConnectParts extends TcpUpstreamParts {
  readonly getPlan: () => MeshPlan;
  /** The connection's `istio_tcp_*` metrics and access log line; absent with telemetry off. */
  readonly observe?: TcpObserverFactory;
}

/** Where `mesh.connect` connects: a service host as the application would dial it, and a port. */
export interface MeshConnectTarget {
  /** A short name (`mongodb`), `name.namespace`, the FQDN, a VIP, or any other host. */
  readonly host: string;
  readonly port: number;
  /**
   * The server name the client's TLS will send over the connection (tls.connect's
   * `servername`), which routes a TLS or HTTPS service port as Envoy's tls_inspector reads it
   * off the ClientHello. Default: `host` when it is a name, no SNI for an address.
   */
  readonly servername?: string | null;
}

/**
 * `mesh.connect`: a TCP connection as the sidecar's outbound tcp_proxy makes it (tls.go
 * `buildSidecarOutboundTCPFilterChainOpts`): a service's TCP port goes where its
 * VirtualService `tcp` route sends it (else its default cluster), a TLS or HTTPS port where
 * the `tls` rule for the client's SNI does (tls.go `buildSidecarOutboundTLSFilterChainOpts`;
 * the client's TLS goes through as it is), through the cluster's
 * load balancer, limits and outlier detection, over auto mTLS to mesh workloads; the
 * socket resolves once the upstream is up, and reads and writes the plaintext stream. A
 * host outside the registry goes straight to it (PassthroughCluster) unless meshConfig
 * `outboundTrafficPolicy` is REGISTRY_ONLY (BlackHoleCluster: refused).
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT` (`details.flags`: NC, UH, UO, UF).
 */
export async function connectTcp(parts: TcpConnectParts, target: MeshConnectTarget): Promise<Socket> {
  const plan = parts.getPlan();
  return (await openConnection(parts, plan, target, `mesh.connect: ${target.host}:${target.port}`)).conn;
}

/** A connection `openConnection` made: the socket, up, and where it went. */
export interface OpenedConnection {
  readonly conn: Socket;
  /** The tcp or tls route that took it; null for the PassthroughCluster. */
  readonly route: TcpRoute | null;
  /** The cluster and endpoint; null for the PassthroughCluster (the original destination). */
  readonly upstream: RoutedConnection | null;
}

/**
 * `mesh.connect`'s connection, for it and for an https call the application's own TLS
 * carries (app-tls-call.ts): routed, passed through, or refused by the BlackHoleCluster.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT`, its message led by `what`.
 */
export async function openConnection(
  parts: Omit<TcpConnectParts, 'getPlan'>,
  plan: MeshPlan,
  target: MeshConnectTarget,
  what: string,
): Promise<OpenedConnection> {
  const sni = target.servername !== undefined ? target.servername : sniOf(target.host);
  const route = routeOf(plan, target, sni);
  if (route === null) {
    if (plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY') {
      const observer = parts.observe?.(null) ?? null;
      observer?.serverName(sni);
      observer?.special(BLACKHOLE_CLUSTER, target.port, null);
      observer?.closed();
      throw new MeshletError(
        'MESHLET_ERR_OUTBOUND_CONNECT',
        `${what} is no TCP service port in the registry (nor a TLS port with a chain for the SNI), and outboundTrafficPolicy is REGISTRY_ONLY (BlackHoleCluster); add a ServiceEntry for it`,
        { host: target.host, port: target.port, cluster: 'BlackHoleCluster', flags: [] },
      );
    }
    return { conn: await direct(parts, target, sni, what), route: null, upstream: null };
  }
  const upstream = await openRouted(parts, plan, route, sni, what);
  return { conn: upstream.conn, route, upstream };
}

/** A connection `openRouted` made: the socket, up, and where it went. */
export interface RoutedConnection {
  readonly conn: Socket;
  readonly cluster: Cluster;
  readonly host: UpstreamHost;
}

/**
 * A tcp_proxy connection along `route` (tcp-upstream.ts), with its `istio_tcp_*` and access
 * log line (the application is the downstream: what it writes is received, what it reads
 * is sent, less the metadata exchange's frames), resolved once it is up.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT`, its message led by `what`.
 */
async function openRouted(
  parts: Omit<TcpConnectParts, 'getPlan'>,
  plan: MeshPlan,
  route: TcpRoute,
  sni: string | null,
  what: string,
): Promise<RoutedConnection> {
  const observer = parts.observe?.(null) ?? null;
  observer?.serverName(sni);
  const upstream = openTcpUpstream(parts, plan, route.destinations, observer);
  if (!upstream.ok) {
    observer?.closed();
    throw refused(what, upstream.flag, upstream.reason ?? null, route.id);
  }
  const conn = upstream.conn;
  if (observer !== null) {
    const ex = upstream.exchange;
    observer.meter(() => ({ received: conn.bytesWritten - ex.sent, sent: conn.bytesRead - ex.received }));
    conn.once('close', () => observer.closed());
  }
  let reason: string | null = null;
  conn.once('error', (err) => (reason = err.message));
  if (!(await upstream.connected)) {
    conn.destroy();
    throw refused(what, 'UF', reason, route.id);
  }
  return { conn, cluster: upstream.cluster, host: upstream.host };
}

/**
 * The route of a connection: a TCP service port's (sidecar-tcp-routes.ts), else the SNI
 * chain of the TLS listener the address has (sidecar-tls-routes.ts); null when none routes
 * it (the PassthroughFilterChain's original destination, or BlackHoleCluster).
 */
function routeOf(plan: MeshPlan, target: MeshConnectTarget, sni: string | null): TcpRoute | null {
  const tcp = plan.outbound.tcp?.lookup(target.host, target.port) ?? null;
  if (tcp !== null) return tcp;
  return plan.outbound.tls?.lookup(target.host, target.port, sni)?.chain?.route ?? null;
}

function refused(what: string, flag: string, reason: string | null, route: string | null): MeshletError {
  const why: Readonly<Record<string, string>> = {
    NC: 'the route names a cluster the registry does not have',
    UH: 'no healthy endpoint',
    UO: "the cluster's connectionPool.tcp.maxConnections is reached",
    UF: `the upstream connection failed${reason === null ? '' : ` (${reason})`}`,
  };
  return new MeshletError('MESHLET_ERR_OUTBOUND_CONNECT', `${what}: ${why[flag] ?? flag} (${flag})`, {
    flags: [flag],
    route,
    ...(reason === null ? {} : { reason }),
  });
}

/** PassthroughCluster: a plain connection to the host itself, reported as Istio reports it. */
function direct(
  parts: Omit<TcpConnectParts, 'getPlan'>,
  target: MeshConnectTarget,
  sni: string | null,
  what: string,
): Promise<Socket> {
  const dialed = (parts.dial ?? netDial)({ address: target.host, port: target.port }, null);
  const observer = parts.observe?.(null) ?? null;
  if (observer !== null) {
    const conn = dialed.socket;
    observer.serverName(sni);
    observer.special(PASSTHROUGH_CLUSTER, target.port, `${target.host}:${target.port}`);
    observer.meter(() => ({ received: conn.bytesWritten, sent: conn.bytesRead }));
    let up = false;
    conn.once(dialed.up, () => {
      up = true;
      observer.connected(false, conn);
    });
    conn.once('error', (err) => {
      if (up) return;
      observer.flag('UF');
      observer.failed(err.message);
    });
    conn.once('close', () => observer.closed());
  }
  return untilUp(dialed).catch((err: Error) => {
    throw new MeshletError(
      'MESHLET_ERR_OUTBOUND_CONNECT',
      `${what}: the connection failed (${err.message}) (UF)`,
      { flags: ['UF'], cluster: 'PassthroughCluster', reason: err.message },
      { cause: err },
    );
  });
}
