import type { SecretDump } from '../admin/secrets-dump.js';
import type { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { WorkloadIdentity } from '../compile/workload.js';
import type { CertWatcher } from '../identity/cert-watcher.js';
import type { CertSource } from '../identity/types.js';
import type { MeshEvents } from '../mesh/types.js';
import type { Clock } from '../runtime/clock.js';
import { gatewayTcpPort } from './gateway-port.js';
import { gatewayPassthroughHandler, gatewayTcpHandler, type GatewayTcpParts } from './gateway-tcp.js';
import { createTcpTlsServer } from './gateway-tcp-tls.js';
import type { GatewayCredentials } from './gateway-tls.js';
import { followGatewayTls } from './gateway-tls-watch.js';

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
    /** For a TLS-terminating port: its certificates follow these, as `listenGateway`'s do. */
    readonly certWatcher: CertWatcher | null;
    readonly clock: Clock;
    readonly events: EventEmitter<MeshEvents>;
    /** What each open listener's certificates are, for the config dump (registered while open). */
    readonly secrets?: Set<() => readonly SecretDump[]>;
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
  const tls = await createTcpTlsServer(plan, port, parts.certs, options.credentials, handle);
  const server =
    tls?.server ??
    createServer({ allowHalfOpen: true }, (socket) => {
      track(socket);
      handle(socket);
    });
  if (tls !== null) server.on('connection', track);
  // A TLS-terminating port follows its certificates (credential files, reloads, workload
  // certificate rotations), reporting `gatewayTls` events as listenGateway does.
  const follow =
    tls === null
      ? null
      : followGatewayTls({
          handle: tls,
          getPlan: parts.getPlan,
          clock: parts.clock,
          onEvent: (e) => parts.events.emit('gatewayTls', e),
        });
  const unsubscribe =
    follow === null
      ? undefined
      : parts.certWatcher?.onEvent((e) => {
          if (e.type === 'rotated') follow.trigger();
        });
  if (follow !== null) parts.events.on('reload', follow.trigger);
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    });
  const secrets = tls?.secrets ?? null;
  const stop = (): void => {
    parts.closers.delete(close);
    if (secrets !== null) parts.secrets?.delete(secrets);
    follow?.close();
    if (follow !== null) parts.events.off('reload', follow.trigger);
    unsubscribe?.();
  };
  parts.closers.add(close);
  if (secrets !== null) parts.secrets?.add(secrets);
  server.once('close', stop);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    stop();
    throw err;
  });
  return server;
}
