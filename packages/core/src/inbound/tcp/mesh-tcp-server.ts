import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshTelemetry } from '../../telemetry/mesh-telemetry.js';
import type { PeerIdentity } from '../request-context.js';
import { MtlsListener, type MtlsListenerOptions, type SecuredConnection } from '../server/mtls-listener.js';
import { TcpInboundChain, type MeshTcpHandler } from './tcp-inbound-chain.js';

export type { ConnectionDenial, MeshTcpConnectionInfo, MeshTcpHandler } from './tcp-inbound-chain.js';

export interface MeshTcpServerOptions extends MtlsListenerOptions {
  readonly handler: MeshTcpHandler;
  /** The mesh's telemetry (`istio_tcp_*` reporter destination, access log); null: none. */
  readonly telemetry?: () => MeshTelemetry | null;
}

/**
 * A `net.Server` for a workload's TCP ports (protocol TCP, MONGO, REDIS, MYSQL, or
 * undeclared), as Istio's sidecar serves them with an inbound tcp_proxy chain:
 * PeerAuthentication per port (mtls-listener.ts; a PERMISSIVE port passes TLS that is not
 * Istio mTLS through to the application, filterchain_options.go), then the
 * AuthorizationPolicies compiled for TCP (connection-authz.ts): a refused connection is
 * closed without a byte (Envoy: `rbac_deny_close`, NoFlush) and reported as
 * `meshConnectionRefused` (reason `rbac-denied`) and `meshConnectionDenied`; an admitted one
 * goes to the application. Telemetry reports each as the sidecar's inbound chain does.
 */
export class MeshTcpServer extends MtlsListener {
  protected readonly passesForeignTls = true;
  readonly #chain: TcpInboundChain;

  constructor(options: MeshTcpServerOptions) {
    super(options, false);
    const telemetry = options.telemetry ?? (() => null);
    this.#chain = new TcpInboundChain({ plan: () => this.plan(), telemetry, handler: options.handler });
  }

  protected servePlain(raw: Socket, mode: MtlsMode, serverName: string | null): void {
    this.#serve(raw, mode, null, serverName);
  }

  protected serveSecured(c: SecuredConnection): void {
    const sni = (c.socket as TLSSocket & { servername?: string | false }).servername;
    this.#serve(c.socket, c.mode, c.peer, typeof sni === 'string' && sni !== '' ? sni : null);
  }

  #serve(socket: Socket, mode: MtlsMode, peer: PeerIdentity | null, sni: string | null): void {
    const port = socket.localPort ?? 0;
    const outcome = this.#chain.serve({ socket, mode, peer, sni, port });
    if (outcome.served) return;
    if (outcome.denial !== null) this.emit('meshConnectionDenied', outcome.denial);
    this.refuse(socket, { reason: outcome.reason, mode, port, detail: outcome.detail });
  }

  /** Destroy every connection (the application's included). */
  closeAllConnections(): void {
    this.destroyAll();
  }
}

/** Create the listener `mesh.listenTcp` serves. */
export function createMeshTcpServer(options: MeshTcpServerOptions): MeshTcpServer {
  return new MeshTcpServer(options);
}
