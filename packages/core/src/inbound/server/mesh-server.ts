import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ForwardClientCert } from '../../config/mesh-config.js';
import type { PeerIdentity } from '../request-context.js';
import { getPeer, recordConnectionPeer, connectionPeerOf } from './peer-registry.js';
import { MtlsListener, type MtlsListenerOptions, type SecuredConnection } from './mtls-listener.js';
import type { RefusedRequest } from '../codec-refusal-report.js';
import { answerCodecError } from './codec-error-reply.js';
import { answerMissingHost } from './missing-host.js';
import type { UpgradeGuard, UpgradeListener } from './upgrade-guard.js';
import { GATEWAY_CLIENT_CERT_DETAILS, rewriteXfcc, xfccElement, xfccModeOf } from './xfcc.js';
import { NODE_MAX_HEADER_SIZE } from '../normalize/header-size.js';
import { servedPlain } from './h2c-plain.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export type { ConnectionRefusal, RefusalReason } from './mtls-listener.js';

export interface MeshServerOptions extends MtlsListenerOptions {
  /** The application: a Node request listener (Fastify's `serverFactory` handler, an Express app, ...). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Told of each request the HTTP parser refused before any request was in flight on its
   * connection (codec-error-reply.ts): the mesh's telemetry reports it as Istio's sidecar does.
   */
  readonly onCodecRefusal?: (r: RefusedRequest) => void;
  /** Decides each upgrade request before the server's `upgrade` listeners hear of it. */
  readonly upgradeGuard?: UpgradeGuard;
}

const noop = () => {};

/**
 * A `net.Server` that serves HTTP/1.1 under Istio's PeerAuthentication for each port it
 * listens on (mtls-listener.ts: STRICT, PERMISSIVE by sniffing, DISABLE). A PERMISSIVE
 * port's TLS without an Istio ALPN matches no HTTP filter chain and is closed.
 * Emits `meshConnectionRefused` (ConnectionRefusal) for every refused connection, and
 * `meshCodecRefusal` (RefusedRequest) for every request its HTTP parser refused before a
 * request was in flight on the connection (answered as Envoy's codec answers it,
 * codec-error-reply.ts).
 */
export class MeshServer extends MtlsListener {
  /** The HTTP server that parses requests on accepted (and verified) connections. */
  readonly http: HttpServer;
  protected readonly passesForeignTls = false;

  readonly #upgradeGuard: UpgradeGuard | undefined;

  constructor(options: MeshServerOptions) {
    super(options, ['http/1.1']);
    this.#upgradeGuard = options.upgradeGuard;
    const handler = options.handler;
    const xfccMode = () => this.#xfccMode();
    const onCodecRefusal = options.onCodecRefusal;
    const onRefusal = (r: RefusedRequest): void => {
      onCodecRefusal?.(r);
      this.emit('meshCodecRefusal', r);
    };
    this.#requestListeners.push(handler);
    // What the connection manager does with a request before any filter or the application
    // runs, in front of every `request` listener (the application's, and an adapter's
    // pre-routing decision): node's own missing-Host check answers a bare 400 unseen, so the
    // connection manager's answer replaces it (missing-host.ts).
    this.http = createHttpServer(
      { requireHostHeader: false, maxHeaderSize: NODE_MAX_HEADER_SIZE },
      (req, res) => {
        if (req.headers.host === undefined && this.#answerMissingHost(req, res, onRefusal)) return;
        // Identity is the handshake's, never a header's (security.md §1 XFCC).
        rewriteXfcc(req, connectionPeerOf(req.socket)?.xfccElement ?? null, xfccMode);
        const listeners = this.#requestListeners;
        if (listeners.length === 1) listeners[0]!(req, res);
        else for (const l of [...listeners]) l(req, res);
      },
    );
    // What the parser refuses is answered here, as the sidecar's codec answers it before the
    // application could: a framework's own `clientError` handler (Fastify's) is not asked.
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // Envoy's connection manager names itself on every response it writes, its own
      // local replies included (server_name, OVERWRITE; proxyHeaders.server).
      const server = this.meshConfig().proxyHeaders.server;
      answerCodecError(err, socket, {
        server: server === null ? null : server.inbound,
        onRefusal,
        now: Date.now,
      });
    });
    // The inner HTTP server never listens itself; its request/headers timeout checks start on 'listening'.
    this.on('listening', () => this.http.emit('listening'));
  }

  /** The verified peer of a request served by this server (null for plaintext or no client certificate). */
  getPeer(req: IncomingMessage): PeerIdentity | null {
    return getPeer(req);
  }

  protected servePlain(raw: Socket): void {
    this.http.emit('connection', raw);
  }

  protected serveSecured(c: SecuredConnection): void {
    // The element is made once per connection, with the details of the plan in force now.
    const details = c.plan.inbound.gateway
      ? GATEWAY_CLIENT_CERT_DETAILS
      : c.plan.meshConfig.proxyHeaders.clientCertDetails;
    const presented = details.chain ? (c.presented ?? c.certificate) : c.certificate;
    const element = xfccElement(presented, c.localSpiffeId, details);
    recordConnectionPeer(c.socket, { peer: c.peer, xfccElement: element });
    this.http.emit('connection', c.socket);
  }

  #answerMissingHost(
    req: IncomingMessage,
    res: ServerResponse,
    onRefusal: (r: RefusedRequest) => void,
  ): boolean {
    const plan = this.plan();
    const server = (plan?.meshConfig ?? this.meshConfig()).proxyHeaders.server;
    return answerMissingHost(req, res, {
      server: server === null ? null : server.inbound,
      acceptHttp10: plan?.inbound.acceptHttp10 !== false,
      onRefusal,
    });
  }

  /**
   * The inbound XFCC mode of the plan in force: a gateway's comes from
   * `gatewayTopology.forwardClientCertDetails` (istio gateway.go), a sidecar's from
   * `proxyHeaders.forwardedClientCert` (listener_inbound.go). SANITIZE when the plan
   * cannot be read: no header of the caller's passes then.
   */
  #xfccMode(): ForwardClientCert {
    const plan = this.plan();
    return plan === null ? 'SANITIZE' : xfccModeOf(plan);
  }

  // http.Server surface that frameworks set or call (Fastify's serverFactory contract).
  setTimeout(ms?: number, callback?: () => void): this {
    this.http.setTimeout(ms, callback);
    return this;
  }
  get timeout(): number {
    return this.http.timeout;
  }
  set timeout(ms: number) {
    this.http.timeout = ms;
  }
  get keepAliveTimeout(): number {
    return this.http.keepAliveTimeout;
  }
  set keepAliveTimeout(ms: number) {
    this.http.keepAliveTimeout = ms;
  }
  get requestTimeout(): number {
    return this.http.requestTimeout;
  }
  set requestTimeout(ms: number) {
    this.http.requestTimeout = ms;
  }
  get headersTimeout(): number {
    return this.http.headersTimeout;
  }
  set headersTimeout(ms: number) {
    this.http.headersTimeout = ms;
  }
  get maxRequestsPerSocket(): number | null {
    return this.http.maxRequestsPerSocket;
  }
  set maxRequestsPerSocket(n: number | null) {
    this.http.maxRequestsPerSocket = n;
  }

  /** Close idle keep-alive connections (and connections still handshaking). */
  // HTTP requests are parsed by the inner http.Server, so its `request` event is the one
  // a framework adapter sees: `listeners('request')`, `on('request')` and
  // `removeAllListeners('request')` reach it, as on a plain http.Server (the Fastify
  // plugin puts its pre-routing decision in front of Fastify's listener this way).
  override listeners(event: string | symbol): ((...args: unknown[]) => unknown)[] {
    if (event === 'upgrade') return [...this.#upgradeListeners] as ((...args: unknown[]) => unknown)[];
    if (event === 'request') return [...this.#requestListeners] as ((...args: unknown[]) => unknown)[];
    return super.listeners(event) as ((...args: unknown[]) => unknown)[];
  }

  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    if (event === 'request') this.#requestListeners.push(listener as unknown as RequestListener);
    else if (event === 'upgrade') this.#addUpgradeListener(listener as unknown as UpgradeListener);
    else super.on(event as string, listener as (...args: unknown[]) => void);
    return this;
  }

  override addListener(event: string | symbol, listener: (...args: never[]) => void): this {
    return this.on(event, listener);
  }

  override off(event: string | symbol, listener: (...args: never[]) => void): this {
    if (event === 'request') {
      const i = this.#requestListeners.indexOf(listener as unknown as RequestListener);
      if (i >= 0) this.#requestListeners.splice(i, 1);
      return this;
    }
    if (event !== 'upgrade') {
      super.off(event, listener as (...args: unknown[]) => void);
      return this;
    }
    const i = this.#upgradeListeners.indexOf(listener as unknown as UpgradeListener);
    if (i >= 0) this.#upgradeListeners.splice(i, 1);
    // Without listeners node serves an upgrade request as a plain one again.
    if (this.#upgradeListeners.length === 0) this.http.removeListener('upgrade', this.#dispatchUpgrade);
    return this;
  }

  override removeListener(event: string | symbol, listener: (...args: never[]) => void): this {
    return this.off(event, listener);
  }

  override removeAllListeners(event?: string | symbol): this {
    if (event === 'request') this.#requestListeners.length = 0;
    else if (event === 'upgrade') {
      this.#upgradeListeners.length = 0;
      this.http.removeListener('upgrade', this.#dispatchUpgrade);
    } else super.removeAllListeners(event);
    return this;
  }

  override listenerCount(event: string | symbol): number {
    if (event === 'request') return this.#requestListeners.length;
    return event === 'upgrade' ? this.#upgradeListeners.length : super.listenerCount(event);
  }

  /** The application's `request` listeners (and an adapter's in front of them). */
  readonly #requestListeners: RequestListener[] = [];

  // `upgrade` listeners (a WebSocket server's) hear each upgrade request once the guard
  // allowed it; node's parser emits it on the inner server, which serves an upgrade request
  // as a plain one while nobody listens.
  readonly #upgradeListeners: UpgradeListener[] = [];

  readonly #dispatchUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (servedPlain(req, socket, head, (r, res) => this.http.emit('request', r, res))) return;
    const listeners = [...this.#upgradeListeners];
    const proceed = (): void => {
      for (const l of listeners) l(req, socket, head);
    };
    if (this.#upgradeGuard === undefined) proceed();
    else this.#upgradeGuard(req, socket, head, proceed);
  };

  #addUpgradeListener(listener: UpgradeListener): void {
    if (this.#upgradeListeners.length === 0) this.http.on('upgrade', this.#dispatchUpgrade);
    this.#upgradeListeners.push(listener);
  }

  closeIdleConnections(): void {
    this.http.closeIdleConnections();
    this.dropPending();
  }

  /** Destroy every connection. */
  closeAllConnections(): void {
    this.http.closeAllConnections();
    this.destroyAll();
  }

  /** Stop accepting; idle and handshaking connections close now, busy ones after their response. */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    // Runs http.Server's pre-close (idle connections, timeout checker); it never listened itself.
    this.http.close(noop);
    return this;
  }
}

/** Create the mTLS-aware server `mesh.listen` and a Fastify `serverFactory` use. */
export function createMeshServer(options: MeshServerOptions): MeshServer {
  return new MeshServer(options);
}
