import type { Socket } from 'node:net';
import type { MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { netDial, untilUp, type TcpDial } from './tcp-dial.js';
import type { TcpObserverFactory } from './tcp-observer.js';
import { openTcpUpstream, type TcpUpstreamParts } from './tcp-upstream.js';

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
}

/**
 * `mesh.connect`: a TCP connection as the sidecar's outbound tcp_proxy makes it (tls.go
 * `buildSidecarOutboundTCPFilterChainOpts`): a service's TCP port goes where its
 * VirtualService `tcp` route sends it (else its default cluster), through the cluster's
 * load balancer, limits and outlier detection, over auto mTLS to mesh workloads; the
 * socket resolves once the upstream is up, and reads and writes the plaintext stream. A
 * host outside the registry goes straight to it (PassthroughCluster) unless meshConfig
 * `outboundTrafficPolicy` is REGISTRY_ONLY (BlackHoleCluster: refused).
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_CONNECT` (`details.flags`: NC, UH, UO, UF).
 */
export async function connectTcp(parts: TcpConnectParts, target: MeshConnectTarget): Promise<Socket> {
  const plan = parts.getPlan();
  const route = plan.outbound.tcp?.lookup(target.host, target.port) ?? null;
  const where = `${target.host}:${target.port}`;
  if (route === null) {
    if (plan.meshConfig.outboundTrafficPolicy === 'REGISTRY_ONLY') {
      throw new MeshletError(
        'MESHLET_ERR_OUTBOUND_CONNECT',
        `mesh.connect: ${where} is no TCP service port in the registry, and outboundTrafficPolicy is REGISTRY_ONLY (BlackHoleCluster); add a ServiceEntry for it`,
        { host: target.host, port: target.port, cluster: 'BlackHoleCluster', flags: [] },
      );
    }
    return direct(parts.dial ?? netDial, target);
  }
  const observer = parts.observe?.(null) ?? null;
  const upstream = openTcpUpstream(parts, plan, route.destinations, observer);
  if (!upstream.ok) {
    observer?.closed();
    throw refused(where, upstream.flag, null, route.id);
  }
  const conn = upstream.conn;
  if (observer !== null) {
    // The application is the downstream: what it writes is received, what it reads is sent.
    // Less the metadata exchange's frames, which are the filter's, not the application's.
    const ex = upstream.exchange;
    observer.meter(() => ({ received: conn.bytesWritten - ex.sent, sent: conn.bytesRead - ex.received }));
    conn.once('close', () => observer.closed());
  }
  let reason: string | null = null;
  conn.once('error', (err) => (reason = err.message));
  if (!(await upstream.connected)) {
    conn.destroy();
    throw refused(where, 'UF', reason, route.id);
  }
  return conn;
}

function refused(where: string, flag: string, reason: string | null, route: string | null): MeshletError {
  const why: Readonly<Record<string, string>> = {
    NC: 'the route names a cluster the registry does not have',
    UH: 'no healthy endpoint',
    UO: "the cluster's connectionPool.tcp.maxConnections is reached",
    UF: `the upstream connection failed${reason === null ? '' : ` (${reason})`}`,
  };
  return new MeshletError(
    'MESHLET_ERR_OUTBOUND_CONNECT',
    `mesh.connect: ${where}: ${why[flag] ?? flag} (${flag})`,
    {
      flags: [flag],
      route,
      ...(reason === null ? {} : { reason }),
    },
  );
}

/** PassthroughCluster: a plain connection to the host itself. */
function direct(dial: TcpDial, target: MeshConnectTarget): Promise<Socket> {
  return untilUp(dial({ address: target.host, port: target.port }, null)).catch((err: Error) => {
    throw new MeshletError(
      'MESHLET_ERR_OUTBOUND_CONNECT',
      `mesh.connect: ${target.host}:${target.port}: the connection failed (${err.message}) (UF)`,
      { flags: ['UF'], cluster: 'PassthroughCluster', reason: err.message },
      { cause: err },
    );
  });
}
