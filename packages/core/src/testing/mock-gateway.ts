import { gatewayInfo } from '../compile/gateway-binding.js';
import { validateWorkload, type WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { gatewayPort, gatewayTcpPort } from '../gateway/gateway-port.js';
import { serverNames, tlsServerForSni } from '../gateway/server-route.js';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import type { Mesh } from '../mesh/types.js';
import type { OutboundClient } from '../outbound/client.js';
import { netDial, untilUp } from '../outbound/tcp-dial.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import { sendTo } from './direct-fetch.js';
import type { RequestListener } from './app-listener.js';
import type { HandlerTracker } from './handler-tracker.js';
import type { Fetch } from './hop-log.js';
import type { MockCaller, MockEndpoint, MockNetwork } from './mock-network.js';
import type { MockGateway, MockGatewayOptions } from './types.js';

/** A client on the internet (TEST-NET-3), as the gateway's `x-forwarded-for` shows it. */
const INTERNET_CLIENT: MockCaller = { address: '203.0.113.10', identity: null };

/** What the mock mesh lends a gateway pod. */
export interface MockGatewayDeps {
  readonly network: MockNetwork;
  readonly handlers: HandlerTracker;
  readonly snapshot: () => ConfigSnapshot;
  /** A free pod address, or `given` once checked. */
  readonly address: (given: string | undefined, port: number, what: string) => string;
  /** Starts the pod's mesh; `forward` wraps what the gateway sends on (the hop log). */
  readonly startMesh: (
    workload: WorkloadIdentity,
    caller: MockCaller,
    gatewayForward: (forward: OutboundClient['forward']) => OutboundClient['forward'],
  ) => Promise<Mesh>;
  readonly logged: (source: string, fetch: Fetch) => Fetch;
  readonly addEndpoint: (host: string, address: string, port: number, workload: WorkloadIdentity) => void;
  readonly identity: (workload: WorkloadIdentity) => MockCaller['identity'];
}

/**
 * A gateway pod (an ingress gateway unless its labels say otherwise): its mesh runs `mesh.gateway()` on the Gateway server port, behind
 * no sidecar of its own (a Gateway's listener applies no PeerAuthentication), with the
 * gateway's identity for mTLS to the services it routes to. Each request it forwards is
 * a hop in the log, from the gateway.
 */
export function mockGateway(deps: MockGatewayDeps, name: string, o: MockGatewayOptions): MockGateway {
  const workload = validateWorkload({
    name,
    namespace: o.namespace ?? 'istio-system',
    serviceAccount: o.serviceAccount ?? `${name}-service-account`,
    labels: { istio: 'ingressgateway', app: name, ...o.labels },
    ...(o.locality === undefined ? {} : { locality: o.locality }),
  });
  // Checked now, from the config in force, so a gateway no Gateway selects fails here.
  const { port, tcp } = serverPortOf(workload, gatewayInfo(deps.snapshot().resources, workload), o.port);
  const address = deps.address(o.address, port, `mm.gateway('${name}')`);
  const id = `${workload.namespace}/${workload.name}`;
  const caller: MockCaller = { address, identity: deps.identity(workload) };
  let mesh: Promise<Mesh> | null = null;
  const meshOf = (): Promise<Mesh> =>
    (mesh ??= deps.startMesh(
      { ...workload, ip: address },
      caller,
      (forward) => (url, init, at) => deps.logged(id, (u, i) => forward(u, i, at))(url, init),
    ));
  const host = `${name}.${workload.namespace}.svc.cluster.local`;
  // The gateway pod on the mock network, an endpoint of its Service; no sidecar of its own
  // (a Gateway's listener applies no PeerAuthentication).
  const join = (serve: Pick<MockEndpoint, 'listener' | 'downstreamTls' | 'tcp'>): void => {
    deps.network.add({
      address,
      port,
      workload: id,
      identity: caller.identity,
      serverTls: false,
      tlsName: host,
      modeFor: () => Promise.resolve('DISABLE'),
      ...serve,
    });
    deps.addEndpoint(host, address, port, workload);
  };
  if (tcp) {
    const { listenPort, ...gateway } = tcpGateway({ workload, host, address, port, mesh: meshOf });
    // Sidecars reach it at its pod address too (an egress gateway's TLS passthrough port):
    // each connection the mock network makes to it goes on to its listener.
    join({
      listener: () => Promise.reject(new Error(`${id}:${port} is a TCP server port`)),
      tcp: (socket) => relay(socket, listenPort),
    });
    return gateway;
  }
  let listener: RequestListener | null = null;
  join({
    listener: async () => (listener ??= deps.handlers.serve((await meshOf()).gateway({ port }))),
    downstreamTls: async (tls, sni) => downstreamTls((await meshOf()).plan, port, tls, sni),
  });
  const fetch: Fetch = deps.logged('external', (url, init) => {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new MeshletError(
        'MESHLET_ERR_OUTBOUND_SCHEME',
        `gateway.fetch: ${target.protocol} is not served; use an http:// or https:// URL`,
        { url: target.href },
      );
    }
    return sendTo(deps.network, INTERNET_CLIENT, `${address}:${port}`, target, host, init);
  });
  return {
    workload,
    host,
    address,
    port,
    fetch,
    connect: () =>
      Promise.reject(
        new MeshletError(
          'MESHLET_ERR_MESH_OPTIONS',
          `gateway.connect: port ${port} is an HTTP server; connect to a TCP or TLS passthrough server port (mm.gateway(name, { port }))`,
          { option: 'gateway.port' },
        ),
      ),
    mesh: meshOf,
  };
}

/**
 * What the gateway's listener on `port` does with a client's TLS (`sni`) or plaintext, as
 * Envoy's filter chains decide it (gateway.go `buildGatewayListeners`): a port of
 * TLS-terminating servers takes TLS whose SNI a server's hosts match (sni-match.ts; no SNI
 * only with a `*` server) and closes plaintext; a plain HTTP port has no TLS to offer. A
 * server in mode MUTUAL or ISTIO_MUTUAL requires a client certificate, which the mock's
 * client does not present; the servers' `credentialName` secrets are taken as present.
 * Null when the connection is served, else why it is refused.
 */
function downstreamTls(plan: MeshPlan, port: number, tls: boolean, sni: string | null): string | null {
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.port === port);
  const terminating = servers.filter((s) => s.terminatesTls);
  if (!tls)
    return terminating.length > 0 && terminating.length === servers.length
      ? `port ${port}'s servers terminate TLS: a plaintext connection is closed`
      : null;
  const server = tlsServerForSni(plan, port, sni);
  if (server === undefined) return `port ${port} serves plain HTTP: there is no TLS to handshake with`;
  if (server === null)
    return `no server on port ${port} takes SNI ${sni ?? '(none)'} (server hosts: ${terminating.flatMap(serverNames).join(', ')})`;
  if (server.tlsMode === 'MUTUAL' || server.tlsMode === 'ISTIO_MUTUAL')
    return `${server.gateway.namespace}/${server.gateway.name}'s server ${server.portName} (tls.mode ${server.tlsMode}) requires a client certificate, which gateway.fetch does not present`;
  return null;
}

/**
 * The port a mock gateway serves, and whether it is a plain TCP or TLS passthrough server:
 * `port` when a Gateway has a server there, else the only HTTP server port, else the only
 * TCP one. An error says what to fix, as `mesh.gateway` and `mesh.listenGatewayTcp` say it.
 */
function serverPortOf(
  w: WorkloadIdentity,
  gw: Parameters<typeof gatewayPort>[1],
  port: number | undefined,
): { port: number; tcp: boolean } {
  try {
    return { port: gatewayPort(w, gw, port), tcp: false };
  } catch (httpError) {
    try {
      return { port: gatewayTcpPort(w, gw, port), tcp: true };
    } catch {
      throw httpError;
    }
  }
}

/**
 * A gateway pod on a plain TCP or TLS passthrough server port: its mesh runs the real
 * `mesh.listenGatewayTcp` on a loopback port, which `connect` reaches as a client on the
 * internet would (the tasks' `nc $INGRESS_HOST $TCP_INGRESS_PORT`); the connections it
 * proxies go over the mock network (auto mTLS, the pods' policies and telemetry).
 */
function tcpGateway(
  g: Omit<MockGateway, 'fetch' | 'connect'>,
): MockGateway & { readonly listenPort: () => Promise<number> } {
  let listening: Promise<number> | null = null;
  const listen = (): Promise<number> =>
    (listening ??= g
      .mesh()
      .then((mesh) => mesh.listenGatewayTcp({ port: g.port, listenPort: 0, host: '127.0.0.1' }))
      .then((server) => (server.address() as AddressInfo).port));
  return {
    ...g,
    listenPort: listen,
    fetch: () =>
      Promise.reject(
        new MeshletError(
          'MESHLET_ERR_MESH_OPTIONS',
          `gateway.fetch: port ${g.port} is a TCP server; use gateway.connect(), or a gateway on an HTTP server port`,
          { option: 'gateway.port' },
        ),
      ),
    connect: async () => {
      const at = await listen();
      return untilUp(netDial({ address: '127.0.0.1', port: at }, null));
    },
  };
}

/** Bytes both ways between a connection the mock network made and the gateway's listener; either end closing closes both. */
function relay(socket: Socket, listenPort: () => Promise<number>): void {
  socket.on('error', () => socket.destroy());
  listenPort().then(
    (at) => {
      const up = netConnect({ host: '127.0.0.1', port: at });
      up.on('error', () => up.destroy());
      up.on('close', () => socket.destroy());
      socket.on('close', () => up.destroy());
      socket.pipe(up);
      up.pipe(socket);
    },
    () => socket.destroy(),
  );
}
