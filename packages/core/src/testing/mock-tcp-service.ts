import type { Socket } from 'node:net';
import type { WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { TcpInboundChain } from '../inbound/tcp/tcp-inbound-chain.js';
import { noExchangeBytes } from '../telemetry/metadata-exchange/tcp-exchange.js';
import type { Mesh } from '../mesh/types.js';
import type { Fetch } from './hop-log.js';
import type { Connect } from './mock-connections.js';
import type { MockCaller, MockEndpoint, MockTcpArrival } from './mock-network.js';
import type {
  MockContext,
  MockServiceOptions,
  MockTcpHandler,
  MockTcpService,
  MockTcpServiceOptions,
} from './types.js';

/** A pod of the mock mesh: its address and identity, its mesh (started on first use) and its calls. */
export interface MockPod {
  readonly address: string;
  readonly caller: MockCaller;
  /** `<namespace>/<workload name>`. */
  readonly id: string;
  readonly meshOf: () => Promise<Mesh>;
  readonly fetch: Fetch;
  readonly connect: Connect;
}

/** A service instance placed in the mock mesh: its pod and host, and how its ports join and leave. */
export interface PlacedInstance {
  readonly workload: WorkloadIdentity;
  readonly p: MockPod;
  readonly host: string;
  readonly join: (port: number, serve: Pick<MockEndpoint, 'serverTls' | 'listener' | 'tcp'>) => void;
  readonly stop: () => void;
}

export type PlaceInstance = (
  what: string,
  name: string,
  options: MockServiceOptions,
  ports: readonly number[],
) => PlacedInstance;

function optionsError(message: string, option: string): MeshletError {
  return new MeshletError('MESHLET_ERR_MESH_OPTIONS', message, { option });
}

function portsOf(name: string, o: MockTcpServiceOptions): readonly number[] {
  if (o.port !== undefined && o.ports !== undefined)
    throw optionsError(`mm.tcpService('${name}'): give \`port\` or \`ports\`, not both`, 'ports');
  const ports = o.ports ?? [o.port ?? 80];
  const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
  if (ports.length === 0 || bad !== undefined) {
    throw optionsError(
      `mm.tcpService('${name}'): \`ports\` must list the container ports it serves (1-65535)${bad === undefined ? '' : `; got ${String(bad)}`}`,
      'ports',
    );
  }
  return ports;
}

/**
 * `mm.tcpService`: a pod serving TCP ports. A meshed pod runs each connection through the
 * chain `mesh.listenTcp` runs after PeerAuthentication (tcp-inbound-chain.ts: network
 * RBAC, stats, access log) with the facts the mock network decided (peer, mode, SNI,
 * the caller's address); a refused connection is closed before `handler` sees it. A pod
 * without a sidecar hands every connection to `handler` (no peer, DISABLE).
 */
export function mockTcpService(
  place: PlaceInstance,
  name: string,
  o: MockTcpServiceOptions,
  handler: MockTcpHandler,
): MockTcpService {
  if (typeof handler !== 'function')
    throw optionsError(
      `mm.tcpService('${name}'): pass a connection handler \`(socket, info, ctx) => …\``,
      'handler',
    );
  const ports = portsOf(name, o);
  const { port: _port, ports: _ports, ...rest } = o;
  const it = place('mm.tcpService', name, rest, ports);
  const { p, workload } = it;
  const ctx: MockContext = { fetch: p.fetch, connect: p.connect, workload };
  let chain: TcpInboundChain | null = null;
  const run = (socket: Socket, info: Parameters<MockTcpHandler>[1]): void => {
    try {
      handler(socket, info, ctx);
    } catch {
      // What a server whose connection handler throws leaves its client with: a reset.
      socket.destroy();
    }
  };
  const accept = (socket: Socket, arrival: MockTcpArrival): void => {
    const { peer, mode, port } = arrival;
    if (p.caller.identity === null) {
      run(socket, Object.freeze({ peer: null, port, mode: 'DISABLE' as const }));
      return;
    }
    p.meshOf().then(
      (mesh) => {
        chain ??= new TcpInboundChain({
          plan: () => mesh.plan,
          telemetry: () => mesh.telemetry,
          handler: (s, info) => run(s, info),
        });
        const outcome = chain.serve({
          socket,
          mode,
          peer,
          sni: arrival.sni,
          port,
          addresses: {
            local: { address: p.address, port },
            remote: { address: arrival.remote, port: socket.remotePort },
          },
          ...(arrival.metadata === null
            ? {}
            : { exchange: { peer: () => arrival.metadata, bytes: noExchangeBytes() } }),
        });
        void Promise.resolve(outcome).then((o) => {
          if (!o.served) socket.destroy();
        });
      },
      () => socket.destroy(),
    );
  };
  for (const port of ports) {
    it.join(port, {
      serverTls: false,
      listener: () =>
        Promise.reject(optionsError(`${p.id} serves TCP on ${port} (mm.tcpService), not HTTP`, 'listener')),
      tcp: accept,
    });
  }
  return {
    workload,
    host: it.host,
    address: p.address,
    ports,
    fetch: p.fetch,
    connect: p.connect,
    mesh: p.meshOf,
    stop: it.stop,
  };
}
