import type { SecretDump } from '../admin/secrets-dump.js';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server, type TLSSocket } from 'node:tls';
import { isTlsTerminatedTcpServer } from '../compile/gateway-tcp-routes.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import type { GatewayCredentials } from './gateway-tls.js';
import {
  matchChainBeforeHandshake,
  refusedWithoutSni,
  sameCertificates,
  serversTls,
  serversTlsOptions,
  type ServersTls,
} from './servers-tls.js';

/** The TLS of one port's TLS-terminating TCP servers from `plan`; null when there are none. */
async function portTls(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
): Promise<ServersTls | null> {
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.port === port && isTlsTerminatedTcpServer(s));
  if (servers.length === 0) return null;
  return serversTls(servers, plan, certs, credentials, 'mesh.listenGatewayTcp', 'TLS');
}

/** A TLS-terminating TCP listener and how to follow its certificates (gateway-tls-watch.ts). */
export interface TcpTlsServerHandle {
  readonly server: Server;
  readonly port: number;
  readonly sources: () => readonly string[];
  /** The certificates in use, under Istio's SDS names. */
  readonly secrets: () => readonly SecretDump[];
  refresh(plan: MeshPlan): Promise<boolean>;
}

/**
 * The listener of a port whose TLS servers the gateway terminates before their tcp route
 * (gateway.go `createGatewayTCPFilterChainOpts`): each server's certificate by SNI, as
 * Envoy's chain match picks it (a name no server claims fails the handshake; no SNI takes
 * only a `*` server, else the connection is closed before the handshake), then `handle`
 * with the decrypted stream. `refresh` takes new certificates for new handshakes, as
 * Envoy's SDS does; null when the port's servers terminate no TLS.
 */
export async function createTcpTlsServer(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
  handle: (socket: Socket) => void,
): Promise<TcpTlsServerHandle | null> {
  const current = await portTls(plan, port, certs, credentials);
  if (current === null) return null;
  let active: ServersTls = current;
  const server = createTlsServer(
    { ...serversTlsOptions(port, () => active), allowHalfOpen: true },
    (socket: TLSSocket) => {
      if (refusedWithoutSni(socket, active)) socket.destroy();
      else handle(socket);
    },
  );
  matchChainBeforeHandshake(server, () => active);
  return {
    server,
    port,
    sources: () => active.sources,
    secrets: () => active.secrets,
    refresh: async (next) => {
      const tls = await portTls(next, port, certs, credentials);
      if (tls === null || tls.clientCert !== active.clientCert)
        throw new MeshletError(
          'MESHLET_ERR_MESH_OPTIONS',
          `mesh.listenGatewayTcp: port ${port} keeps its listener: its servers now terminate TLS differently; call listenGatewayTcp again to serve the change`,
          { option: 'gateway.port' },
        );
      if (sameCertificates(active, tls)) return false;
      server.setSecureContext(tls.defaults);
      active = tls;
      return true;
    },
  };
}
