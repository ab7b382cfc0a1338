import { createServer, type Server, type Socket } from 'node:net';
import type { WorkloadIdentity } from '../compile/workload.js';
import { gatewayTcpPort } from './gateway-port.js';
import { gatewayPassthroughHandler, gatewayTcpHandler, type GatewayTcpParts } from './gateway-tcp.js';

/** Options of `mesh.listenGatewayTcp`. */
export interface GatewayTcpServerOptions {
  /** The Gateway server port (`servers[].port.number`); default its only plain TCP or TLS passthrough server port. */
  readonly port?: number;
  /** The port to listen on (the pod's container port); default `port`. 0 picks a free one. */
  readonly listenPort?: number;
  /** Default `0.0.0.0`. */
  readonly host?: string;
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
  },
  options: GatewayTcpServerOptions,
): Promise<Server> {
  const plan = parts.getPlan();
  const port = gatewayTcpPort(parts.workload, plan.gateway, options.port);
  const passthrough = plan.gateway?.tls.some((t) => t.port === port) === true;
  const handle = passthrough ? gatewayPassthroughHandler(parts, port) : gatewayTcpHandler(parts, port);
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    handle(socket);
  });
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
