import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshTelemetry } from '../../telemetry/mesh-telemetry.js';
import type { PeerIdentity } from '../request-context.js';
import { MtlsListener, type MtlsListenerOptions, type SecuredConnection } from '../server/mtls-listener.js';
import { tcpMetadataExchange } from '../../compile/istiod-features.js';
import type { PeerMetadata } from '../../telemetry/metadata-exchange/peer-metadata.js';
import {
  exchangeTcpMetadata,
  MX_ALPN,
  noExchangeBytes,
  type TcpExchangeState,
} from '../../telemetry/metadata-exchange/tcp-exchange.js';
import { TcpInboundChain, type ChainOutcome, type MeshTcpHandler } from './tcp-inbound-chain.js';
import type { ConnectionCheck } from './connection-authz.js';

export type { ConnectionDenial, MeshTcpConnectionInfo, MeshTcpHandler } from './tcp-inbound-chain.js';

export interface MeshTcpServerOptions extends MtlsListenerOptions {
  readonly handler: MeshTcpHandler;
  /** The mesh's telemetry (`istio_tcp_*` reporter destination, access log); null: none. */
  readonly telemetry?: () => MeshTelemetry | null;
  /** This workload's TCP metadata-exchange frame (tcp-exchange.ts); null: no exchange. */
  readonly exchangeFrame?: Buffer | null;
  /** Asks CUSTOM policies' gRPC providers about connections (network ext_authz). */
  readonly check?: ConnectionCheck;
}

/**
 * The ALPN values an inbound TCP chain's TLS context advertises (authn utils.go
 * BuildInboundTLS: util.ALPNDownstreamWithMxc, or ALPNDownstream without the exchange).
 */
function tcpChainAlpn(exchange: boolean): readonly string[] {
  return exchange ? [MX_ALPN, 'h2', 'http/1.1'] : ['h2', 'http/1.1'];
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
  /** Null when the exchange is off (no frame, or istiod's flags turn it off). */
  readonly #exchangeFrame: Buffer | null;

  constructor(options: MeshTcpServerOptions) {
    const exchange =
      (options.exchangeFrame ?? null) !== null && tcpMetadataExchange(options.getPlan().istiodFeatures);
    super(options, tcpChainAlpn(exchange));
    this.#exchangeFrame = exchange ? (options.exchangeFrame ?? null) : null;
    const telemetry = options.telemetry ?? (() => null);
    this.#chain = new TcpInboundChain({
      plan: () => this.plan(),
      telemetry,
      handler: options.handler,
      ...(options.check === undefined ? {} : { check: options.check }),
    });
  }

  protected servePlain(raw: Socket, mode: MtlsMode, serverName: string | null): void {
    this.#serve(raw, mode, null, serverName, null);
  }

  protected serveSecured(c: SecuredConnection): void {
    const tls = c.socket as TLSSocket & { servername?: string | false };
    const sni = typeof tls.servername === 'string' && tls.servername !== '' ? tls.servername : null;
    const frame = this.#exchangeFrame;
    if (frame === null || tls.alpnProtocol !== MX_ALPN) {
      this.#serve(c.socket, c.mode, c.peer, sni, null);
      return;
    }
    // The metadata exchange is the inbound TCP chain's first filter, and the network RBAC
    // filter after it decides on the connection's first data, which with the exchange is
    // the peer's frame: the policy (and the stats) see the peer's metadata. So the chain
    // goes on once the frame is read, or the peer showed it sends none, or after the
    // handshake bound. Our frame goes out at once: a peer's sidecar answers it with its own
    // (its filter writes on the first data it reads), whichever side's application speaks
    // first.
    let exchanged: PeerMetadata | null = null;
    let served = false;
    const bytes = noExchangeBytes();
    const serve = (): void => {
      if (served) return;
      served = true;
      this.clock.clearTimeout(timer);
      this.#serve(c.socket, c.mode, c.peer, sni, { peer: () => exchanged, bytes });
    };
    const timer = this.clock.setTimeout(serve, this.handshakeTimeoutMs);
    exchangeTcpMetadata(
      tls,
      frame,
      (m) => {
        exchanged = m;
        serve();
      },
      bytes,
    );
  }

  #serve(
    socket: Socket,
    mode: MtlsMode,
    peer: PeerIdentity | null,
    sni: string | null,
    exchange: TcpExchangeState | null,
  ): void {
    const port = socket.localPort ?? 0;
    const outcome = this.#chain.serve({
      socket,
      mode,
      peer,
      sni,
      port,
      ...(exchange === null ? {} : { exchange }),
    });
    if (outcome instanceof Promise) void outcome.then((o) => this.#after(o, socket, mode, port));
    else this.#after(outcome, socket, mode, port);
  }

  #after(outcome: ChainOutcome, socket: Socket, mode: MtlsMode, port: number): void {
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
