import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Cluster, MeshPlan } from '../compile/plan-types.js';
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

/**
 * The connection handler of one TCP server port: Envoy's tcp_proxy with the weighted
 * clusters of the port's `tcp` route (gateway.go buildGatewayNetworkFiltersFromTCPRoutes).
 * Each connection picks a destination by weight and an endpoint by the cluster's load
 * balancer, reaches it over the cluster's TLS (auto mTLS with the gateway's identity to a
 * mesh workload) or plain TCP, and relays bytes both ways until either side ends. A port
 * no rule routes, a missing cluster or no healthy endpoint closes the connection, as Envoy
 * does without a filter chain or with `UH`.
 */
export function gatewayTcpHandler(parts: GatewayTcpParts, port: number): (socket: Socket) => void {
  return (socket) => {
    socket.on('error', () => socket.destroy());
    const plan = parts.getPlan();
    const route = plan.gateway?.tcp.find((r) => r.port === port);
    const dest = route === undefined ? undefined : chooseDestination(route.destinations, parts.random);
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
  };
}
