import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type TLSSocket } from 'node:tls';
import { isTlsTerminatedTcpServer } from '../compile/gateway-tcp-routes.js';
import type { MeshPlan } from '../compile/plan-types.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { MeshletError } from '../errors/meshlet-error.js';
import type { CertSource } from '../identity/types.js';
import { gatewayTcpPort } from './gateway-port.js';
import { gatewayPassthroughHandler, gatewayTcpHandler, type GatewayTcpParts } from './gateway-tcp.js';
import { serverTlsMaterial, type GatewayCredentials } from './gateway-tls.js';
import { serverNames } from './server-route.js';
import { matchServerName } from './sni-match.js';

/** Options of `mesh.listenGatewayTcp`. */
export interface GatewayTcpServerOptions {
  /** The Gateway server port (`servers[].port.number`); default its only plain TCP or TLS passthrough server port. */
  readonly port?: number;
  /** The port to listen on (the pod's container port); default `port`. 0 picks a free one. */
  readonly listenPort?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
  /**
   * For a TLS server the gateway terminates (protocol TLS, mode SIMPLE, MUTUAL...): where the
   * secrets `credentialName` names are mounted, as for `mesh.listenGateway`.
   */
  readonly credentials?: GatewayCredentials;
}

/**
 * `mesh.listenGatewayTcp`: a TCP listener for one plain TCP Gateway server port, proxying
 * each connection by the port's VirtualService `tcp` route (gateway-tcp.ts). Half-closes
 * pass through, as Envoy's tcp_proxy passes them. `close` (registered in `closers`, which
 * `mesh.close()` runs) stops listening and ends the open connections.
 */
export async function listenGatewayTcp(
  parts: GatewayTcpParts & {
    readonly workload: WorkloadIdentity;
    readonly closers: Set<() => Promise<void>>;
    readonly certs: CertSource | null;
  },
  options: GatewayTcpServerOptions,
): Promise<Server> {
  const plan = parts.getPlan();
  const port = gatewayTcpPort(parts.workload, plan.gateway, options.port);
  const passthrough = plan.gateway?.tls.some((t) => t.port === port) === true;
  const handle = passthrough ? gatewayPassthroughHandler(parts, port) : gatewayTcpHandler(parts, port);
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
  const terminating = await terminatedTls(plan, port, parts.certs, options.credentials);
  const server =
    terminating === null
      ? createServer({ allowHalfOpen: true }, (socket) => {
          track(socket);
          handle(socket);
        })
      : createTlsServer({ ...terminating.options, allowHalfOpen: true }, (socket: TLSSocket) => {
          // A client without SNI takes only a `*` server's chain.
          if (typeof socket.servername !== 'string' && !terminating.catchAll) socket.destroy();
          else handle(socket);
        });
  if (terminating !== null) server.on('connection', track);
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    });
  parts.closers.add(close);
  server.once('close', () => parts.closers.delete(close));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    parts.closers.delete(close);
    throw err;
  });
  return server;
}

/**
 * The TLS a port's TLS-terminating servers need (gateway.go `createGatewayTCPFilterChainOpts`:
 * each server a filter chain matched by its hosts, with its TLS context, then its tcp
 * route): each server's certificate by SNI (a name no server claims fails the handshake);
 * null when the port's servers terminate none.
 */
async function terminatedTls(
  plan: MeshPlan,
  port: number,
  certs: CertSource | null,
  credentials: GatewayCredentials | undefined,
): Promise<{ readonly options: Parameters<typeof createTlsServer>[0]; readonly catchAll: boolean } | null> {
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
  const contexts = servers.map((s, i) => ({
    names: serverNames(s),
    value: createSecureContext(material[i]!.context),
  }));
  const catchAll = servers.findIndex((s) => serverNames(s).includes('*'));
  return {
    options: {
      ...material[Math.max(catchAll, 0)]!.context,
      requestCert: clientCert !== 'none',
      rejectUnauthorized: clientCert === 'required',
      SNICallback: (name, cb) => {
        const context = matchServerName(contexts, name.toLowerCase());
        if (context === null) cb(new Error(`no Gateway server on port ${port} serves ${name}`));
        else cb(null, context);
      },
    },
    catchAll: catchAll >= 0,
  };
}
