import type { Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server, type TLSSocket } from 'node:tls';
import { isTlsTerminatedTcpServer } from '../compile/gateway-tcp-routes.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import { serverTlsMaterial, type GatewayCredentials, type ServerTlsMaterial } from './gateway-tls.js';
import { serverNames } from './server-route.js';
import { matchServerName } from './sni-match.js';

/** The TLS of one port's TLS-terminating TCP servers, as read from a plan. */
interface PortTls {
  readonly material: readonly ServerTlsMaterial[];
  readonly names: readonly string[][];
  readonly clientCert: ServerTlsMaterial['clientCert'];
  /** The index of a server with host `*` (which takes clients without SNI), or -1. */
  readonly catchAll: number;
  readonly fingerprint: string;
}

async function portTls(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
): Promise<PortTls | null> {
  const servers = (plan.gateway?.servers ?? []).filter((s) => s.port === port && isTlsTerminatedTcpServer(s));
  if (servers.length === 0) return null;
  const material = await Promise.all(
    servers.map((s) => serverTlsMaterial(s, credentials, certs, plan.meshConfig.tlsDefaults)),
  );
  const clientCert = material[0]!.clientCert;
  if (material.some((m) => m.clientCert !== clientCert)) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mesh.listenGatewayTcp: the TLS servers on port ${port} disagree on client certificates (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL); give each its own port`,
      { option: 'gateway.port' },
    );
  }
  const names = servers.map(serverNames);
  return {
    material,
    names,
    clientCert,
    catchAll: names.findIndex((n) => n.includes('*')),
    fingerprint: JSON.stringify(material.map((m) => [m.context.cert, m.context.key, m.context.ca])),
  };
}

/** A TLS-terminating TCP listener and how to follow its certificates (gateway-tls-watch.ts). */
export interface TcpTlsServerHandle {
  readonly server: Server;
  readonly port: number;
  readonly sources: () => readonly string[];
  refresh(plan: MeshPlan): Promise<boolean>;
}

/**
 * The listener of a port whose TLS servers the gateway terminates before their tcp route
 * (gateway.go `createGatewayTCPFilterChainOpts`): each server's certificate by SNI, as
 * Envoy's chain match picks it (a name no server claims fails the handshake; no SNI takes
 * only a `*` server), then `handle` with the decrypted stream. `refresh` takes new
 * certificates for new handshakes, as Envoy's SDS does; null when the port's servers
 * terminate no TLS.
 */
export async function createTcpTlsServer(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
  handle: (socket: Socket) => void,
): Promise<TcpTlsServerHandle | null> {
  let current = await portTls(plan, port, certs, credentials);
  if (current === null) return null;
  const contextsOf = (t: PortTls) =>
    t.names.map((names, i) => ({ names, value: createSecureContext(t.material[i]!.context) }));
  let contexts = contextsOf(current);
  const defaults = (t: PortTls) => t.material[Math.max(t.catchAll, 0)]!.context;
  const server = createTlsServer(
    {
      ...defaults(current),
      allowHalfOpen: true,
      requestCert: current.clientCert !== 'none',
      rejectUnauthorized: current.clientCert === 'required',
      SNICallback: (name, cb) => {
        const context = matchServerName(contexts, name.toLowerCase());
        if (context === null) cb(new Error(`no Gateway server on port ${port} serves ${name}`));
        else cb(null, context);
      },
    },
    (socket: TLSSocket) => {
      if (typeof socket.servername !== 'string' && current?.catchAll === -1) socket.destroy();
      else handle(socket);
    },
  );
  return {
    server,
    port,
    sources: () => [...new Set(current?.material.flatMap((m) => m.sources) ?? [])],
    refresh: async (next) => {
      const tls = await portTls(next, port, certs, credentials);
      if (tls === null || tls.clientCert !== current?.clientCert)
        throw new MeshletError(
          'MESHLET_ERR_MESH_OPTIONS',
          `mesh.listenGatewayTcp: port ${port} keeps its listener: its servers now terminate TLS differently; call listenGatewayTcp again to serve the change`,
          { option: 'gateway.port' },
        );
      if (tls.fingerprint === current.fingerprint && tls.names.length === current.names.length) return false;
      server.setSecureContext(defaults(tls));
      contexts = contextsOf(tls);
      current = tls;
      return true;
    },
  };
}
