import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshPlan } from '../../compile/plan-types.js';
import type { MeshTelemetry } from '../../telemetry/mesh-telemetry.js';
import type { PeerIdentity } from '../request-context.js';
import { MtlsListener, type MtlsListenerOptions, type SecuredConnection } from '../server/mtls-listener.js';
import {
  compileConnectionAuthorization,
  type ConnectionAuthorization,
  type ConnectionDecision,
} from './connection-authz.js';
import { TcpInboundObserver } from './tcp-inbound-observer.js';

/** What the application learns of an inbound TCP connection. */
export interface MeshTcpConnectionInfo {
  /** The verified mTLS peer; null for plaintext (and for TLS the application terminates itself). */
  readonly peer: PeerIdentity | null;
  /** The local port the connection arrived on. */
  readonly port: number;
  /** The PeerAuthentication mode the port was under. */
  readonly mode: MtlsMode;
}

/**
 * The application's side of an inbound TCP connection: `socket` is plaintext to read and
 * write (the mesh terminated mTLS); end or destroy it as with any net.Socket.
 */
export type MeshTcpHandler = (socket: Socket, info: MeshTcpConnectionInfo) => void;

export interface MeshTcpServerOptions extends MtlsListenerOptions {
  readonly handler: MeshTcpHandler;
  /** The mesh's telemetry (`istio_tcp_*` reporter destination, access log); null: none. */
  readonly telemetry?: () => MeshTelemetry | null;
}

/** Payload of the `meshConnectionDenied` event: the connection AuthorizationPolicy refused. */
export interface ConnectionDenial {
  readonly port: number;
  readonly remoteAddress: string | null;
  readonly peer: PeerIdentity | null;
  readonly decision: Extract<ConnectionDecision, { allow: false }>;
}

const ACTION = { custom: 'CUSTOM', deny: 'DENY', allow: 'ALLOW' } as const;

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
  readonly #handler: MeshTcpHandler;
  readonly #telemetry: () => MeshTelemetry | null;
  #compiled: { readonly plan: MeshPlan; readonly authz: ConnectionAuthorization } | null = null;

  constructor(options: MeshTcpServerOptions) {
    super(options, false);
    this.#handler = options.handler;
    this.#telemetry = options.telemetry ?? (() => null);
  }

  protected servePlain(raw: Socket, mode: MtlsMode, serverName: string | null): void {
    this.#serve(raw, mode, null, serverName);
  }

  protected serveSecured(c: SecuredConnection): void {
    const sni = (c.socket as TLSSocket & { servername?: string | false }).servername;
    this.#serve(c.socket, c.mode, c.peer, typeof sni === 'string' && sni !== '' ? sni : null);
  }

  #authorization(plan: MeshPlan): ConnectionAuthorization {
    if (this.#compiled?.plan !== plan) this.#compiled = { plan, authz: compileConnectionAuthorization(plan) };
    return this.#compiled.authz;
  }

  #serve(socket: Socket, mode: MtlsMode, peer: PeerIdentity | null, sni: string | null): void {
    const port = socket.localPort ?? 0;
    const plan = this.plan();
    if (plan === null) {
      this.refuse(socket, {
        reason: 'no-plan',
        mode,
        port,
        detail: 'the plan could not be read; failing closed',
      });
      return;
    }
    const telemetry = this.#telemetry();
    const observer = telemetry === null ? null : new TcpInboundObserver(telemetry, socket, port, peer, sni);
    const decision = this.#authorization(plan).decide({
      peer,
      port,
      sourceIp: socket.remoteAddress ?? '',
      destinationIp: socket.localAddress ?? '',
      sni,
    });
    if (!decision.allow) {
      observer?.denied(decision.terminationDetails);
      telemetry?.meshlet.authzDenied(decision.policy, ACTION[decision.stage]);
      this.emit('meshConnectionDenied', {
        port,
        remoteAddress: socket.remoteAddress ?? null,
        peer,
        decision,
      } satisfies ConnectionDenial);
      this.refuse(socket, { reason: 'rbac-denied', mode, port, detail: decision.detail });
      return;
    }
    observer?.served();
    this.#handler(socket, Object.freeze({ peer, port, mode }));
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
