import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshPlan } from '../../compile/plan-types.js';
import { DEFAULT_MESH_CONFIG, type ForwardClientCert, type MeshConfig } from '../../config/mesh-config.js';
import { meshTlsServerOptions } from '../../identity/mesh-tls.js';
import { acceptedTrustDomains, meshTrustBundle, peerFromCertificate } from '../../identity/spiffe.js';
import type { CertSource, WorkloadCertificates } from '../../identity/types.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { PeerIdentity } from '../request-context.js';
import { getPeer, recordConnectionPeer, connectionPeerOf } from './peer-registry.js';
import { handshakeFailure } from './handshake-failure.js';
import { PresentedChains } from './presented-chain.js';
import { ISTIO_MTLS_ALPNS, offersIstioMtls } from './istio-alpn.js';
import { sniffFirstBytes, TLS_HANDSHAKE } from './sniff.js';
import { GATEWAY_CLIENT_CERT_DETAILS, rewriteXfcc, xfccElement, xfccModeOf } from './xfcc.js';

export interface MeshServerOptions {
  /** The application: a Node request listener (Fastify's `serverFactory` handler, an Express app, ...). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The current plan; read once per new connection, so a reload applies to the next connection. */
  readonly getPlan: () => MeshPlan;
  /** The workload certificates; null = no TLS (plaintext under PERMISSIVE/DISABLE, nothing under STRICT). */
  readonly certs: CertSource | null;
  /** Timers for the handshake timeout (default the system clock). */
  readonly clock?: Clock;
  /**
   * Time from accept until the TLS handshake completes (or, under PERMISSIVE, the first
   * plaintext byte arrives) before the connection is dropped. Default 10 000 ms.
   */
  readonly handshakeTimeoutMs?: number;
}

/** Why the mesh server closed a connection without serving it. */
export type RefusalReason =
  | 'plaintext-in-strict'
  | 'no-workload-certificates'
  | 'handshake-failed'
  | 'handshake-timeout'
  | 'no-filter-chain'
  | 'no-client-certificate'
  | 'untrusted-peer'
  | 'no-plan';

/** Payload of the `meshConnectionRefused` event. */
export interface ConnectionRefusal {
  readonly reason: RefusalReason;
  readonly mode: MtlsMode | null;
  readonly port: number;
  readonly remoteAddress: string | null;
  readonly detail: string;
}

const noop = () => {};
const HTTP11_ALPN = ['http/1.1'];

interface Pending {
  readonly raw: Socket;
  readonly mode: MtlsMode;
  readonly port: number;
  timer: unknown;
  /** Served, refused or gone: nothing more to report. */
  done: boolean;
}

function remoteKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}|${socket.localPort ?? ''}`;
}

/**
 * The accepted socket a server-side TLSSocket wraps. Node keeps it as `_parent` (not public
 * API); a TLSSocket that Node destroyed itself (a client certificate that does not verify)
 * no longer knows its addresses, so the key is found through it.
 */
function wrappedSocket(socket: TLSSocket): Socket | null {
  const parent = (socket as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : null;
}

/**
 * A `net.Server` that serves HTTP/1.1 under Istio's PeerAuthentication for each port it
 * listens on (security.md §1, `plan.inbound.peerAuthentication.modeFor(port)` read per
 * connection): STRICT accepts only TLS with a client certificate verified against the
 * mesh root and trust domain, and closes anything else at the connection (no HTTP status,
 * as Envoy's TLS-only filter chains do); PERMISSIVE sniffs the first bytes (a ClientHello,
 * as Envoy's tls_inspector finds one) and serves mTLS, for a ClientHello offering an Istio
 * ALPN, and plaintext on one port; DISABLE serves plaintext.
 * Certificate rotations apply to new handshakes; open connections keep theirs.
 * Emits `meshConnectionRefused` (ConnectionRefusal) for every refused connection.
 */
export class MeshServer extends NetServer {
  /** The HTTP server that parses requests on accepted (and verified) connections. */
  readonly http: HttpServer;
  readonly #getPlan: () => MeshPlan;
  readonly #certs: CertSource | null;
  readonly #clock: Clock;
  readonly #handshakeTimeoutMs: number;
  readonly #tls: TlsServer;
  /** The same, selecting ALPN `http/1.1`: for a ClientHello that offers it. */
  readonly #tlsHttp11: TlsServer;
  /** The chains clients present, for XFCC `Chain`: captured only while meshConfig asks for it. */
  readonly #presented: PresentedChains;
  #applied: WorkloadCertificates | null = null;
  #appliedMesh: MeshConfig | null = null;
  readonly #pending = new Map<string, Pending>();
  /** The key of each accepted socket in #pending. */
  readonly #keys = new WeakMap<Socket, string>();
  readonly #sockets = new Set<Socket>();

  constructor(options: MeshServerOptions) {
    // Accept as node's http.Server does. Nagle's algorithm off (its `noDelay` option,
    // default true): a bare net.Server leaves it on, and a response written in two pieces
    // (a `res.write`, then `res.end` a moment later) then waited for the client's delayed
    // ACK: 43 ms per keep-alive request here instead of 1.6 ms. `allowHalfOpen`, so the
    // HTTP server decides what a client's FIN ends (its own socketOnEnd), not net: on
    // Node 24 the net default cost each keep-alive request ~2,400 instructions.
    super({ noDelay: true, allowHalfOpen: true });
    this.#getPlan = options.getPlan;
    this.#certs = options.certs;
    this.#clock = options.clock ?? systemClock;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    const handler = options.handler;
    const xfccMode = () => this.#xfccMode();
    this.http = createHttpServer((req, res) => {
      // Identity is the handshake's, never a header's (security.md §1 XFCC).
      rewriteXfcc(req, connectionPeerOf(req.socket)?.xfccElement ?? null, xfccMode);
      handler(req, res);
    });
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (this.listenerCount('clientError') > 0) {
        this.emit('clientError', err, socket);
        return;
      }
      // Node's own default for a request it cannot parse.
      if (socket.writable && socket.bytesWritten === 0) {
        const status =
          err.code === 'HPE_HEADER_OVERFLOW'
            ? '431 Request Header Fields Too Large'
            : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? '408 Request Timeout'
              : '400 Bad Request';
        // Envoy's connection manager names itself on every response it writes, its own
        // local replies included (server_name, OVERWRITE; proxyHeaders.server).
        // A name that could end the header line is not written.
        const server = this.#meshConfig().proxyHeaders.server;
        const name =
          server === null || /[\r\n\0]/.test(server.inbound) ? '' : `server: ${server.inbound}\r\n`;
        socket.end(`HTTP/1.1 ${status}\r\n${name}Connection: close\r\n\r\n`);
      } else {
        socket.destroy();
      }
    });
    // Mesh TLS: TLS 1.2+ (Istio's sidecar minimum), a client certificate required under every
    // mode: Istio's mTLS filter chain sets require_client_certificate (pilot/pkg/security/authn/
    // utils/utils.go BuildInboundTLS), so BoringSSL fails a handshake without one with a TLS
    // alert, certificate_required (TLS 1.3) or handshake_failure (TLS 1.2). With
    // rejectUnauthorized OpenSSL sends the same alert (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); Node
    // checks a presented chain itself once OpenSSL's handshake is done and destroys the socket
    // when it fails, without an alert (Envoy: unknown_ca, certificate_expired; see
    // #handshakeFailed). The trust-domain check comes after, in #secured. The context is set
    // before each handshake.
    //
    // ALPN: Istio's inbound HTTP chain advertises h2 and http/1.1 (authn/utils/utils.go
    // BuildInboundTLS) and Envoy, finding none of them offered, goes on without ALPN
    // (server_context_impl.cc alpnSelectCallback, SSL_TLSEXT_ERR_NOACK), where node would end
    // the handshake with a fatal alert. So a ClientHello offering http/1.1 (the one protocol
    // served here) goes to a server that selects it, any other to one that ignores ALPN.
    const tlsOptions = { requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' } as const;
    this.#tls = createTlsServer(tlsOptions);
    this.#tlsHttp11 = createTlsServer({ ...tlsOptions, ALPNProtocols: HTTP11_ALPN });
    this.#presented = new PresentedChains([this.#tls, this.#tlsHttp11]);
    for (const tls of [this.#tls, this.#tlsHttp11]) {
      tls.on('secureConnection', (s: TLSSocket) => this.#secured(s));
      tls.on('tlsClientError', (err: Error, s: TLSSocket) => this.#handshakeFailed(err, s));
    }
    this.on('connection', (socket: Socket) => this.#accept(socket));
    // The inner HTTP server never listens itself; its request/headers timeout checks start on 'listening'.
    this.on('listening', () => this.http.emit('listening'));
  }

  /** The verified peer of a request served by this server (null for plaintext or no client certificate). */
  getPeer(req: IncomingMessage): PeerIdentity | null {
    return getPeer(req);
  }

  #refuse(socket: Socket, refusal: Omit<ConnectionRefusal, 'remoteAddress'>): void {
    const event: ConnectionRefusal = Object.freeze({
      ...refusal,
      remoteAddress: socket.remoteAddress ?? null,
    });
    socket.destroy();
    this.emit('meshConnectionRefused', event);
  }

  #modeFor(port: number): MtlsMode | null {
    try {
      return this.#getPlan().inbound.peerAuthentication.modeFor(port);
    } catch {
      return null;
    }
  }

  #accept(raw: Socket): void {
    raw.on('error', noop);
    this.#sockets.add(raw);
    raw.once('close', () => this.#sockets.delete(raw));
    const port = raw.localPort ?? 0;
    const mode = this.#modeFor(port);
    if (mode === null) {
      this.#refuse(raw, {
        reason: 'no-plan',
        mode,
        port,
        detail: 'the plan could not be read; failing closed',
      });
      return;
    }
    if (mode === 'DISABLE') {
      this.http.emit('connection', raw);
      return;
    }
    const key = remoteKey(raw);
    this.#keys.set(raw, key);
    const pending: Pending = { raw, mode, port, timer: null, done: false };
    pending.timer = this.#clock.setTimeout(() => {
      this.#settle(key, pending);
      this.#refuse(raw, {
        reason: 'handshake-timeout',
        mode,
        port,
        detail: `no completed handshake within ${this.#handshakeTimeoutMs} ms`,
      });
    }, this.#handshakeTimeoutMs);
    this.#pending.set(key, pending);
    raw.once('close', () => {
      if (pending.timer !== null) this.#clock.clearTimeout(pending.timer);
      pending.timer = null;
      // tls.Server reports a failed handshake ('tlsClientError') after the raw socket closes;
      // let it speak first, then report a close nobody explained.
      setImmediate(() => {
        if (pending.done) return;
        this.#settle(key, pending);
        this.#refuse(raw, {
          reason: 'handshake-failed',
          mode,
          port,
          detail: 'the connection closed during the handshake',
        });
      });
    });
    sniffFirstBytes(raw, ({ first, clientHello, alpn }) => {
      if (first === null) {
        this.#settle(key, pending);
        raw.destroy();
        return;
      }
      // Envoy's tls_inspector calls TLS only what parses as a ClientHello; anything else, a
      // handshake record type byte included, leaves the transport protocol raw_buffer and
      // PERMISSIVE's plaintext chain takes it (its HTTP codec answers 400). Under STRICT it
      // matches no chain; here TLS fails it, closed without a response either way.
      if (first !== TLS_HANDSHAKE || (!clientHello && mode === 'PERMISSIVE')) {
        if (mode === 'STRICT') {
          this.#settle(key, pending);
          this.#refuse(raw, {
            reason: 'plaintext-in-strict',
            mode,
            port,
            detail: 'plaintext on a STRICT port',
          });
          return;
        }
        this.#settle(key, pending);
        this.http.emit('connection', raw);
        return;
      }
      // A PERMISSIVE HTTP port's only TLS chain is mTLS for Istio's ALPN values; any other
      // ClientHello matches no chain and Envoy closes the connection before a handshake (no
      // alert). STRICT's one TLS chain takes any ALPN.
      if (mode === 'PERMISSIVE' && alpn !== null && !offersIstioMtls(alpn)) {
        this.#settle(key, pending);
        this.#refuse(raw, {
          reason: 'no-filter-chain',
          mode,
          port,
          detail: `TLS without an Istio ALPN (${ISTIO_MTLS_ALPNS.join(', ')}) on a PERMISSIVE port: no filter chain matches (offered: ${JSON.stringify(alpn)})`,
        });
        return;
      }
      const certs = this.#currentCerts();
      if (certs === null) {
        this.#settle(key, pending);
        this.#refuse(raw, {
          reason: 'no-workload-certificates',
          mode,
          port,
          detail: 'a TLS client arrived but the server has no workload certificates',
        });
        return;
      }
      (alpn?.includes('http/1.1') === true ? this.#tlsHttp11 : this.#tls).emit('connection', raw);
    });
  }

  /** meshConfig of the plan in force (Istio's defaults when it cannot be read). */
  #meshConfig(): MeshConfig {
    try {
      return this.#getPlan().meshConfig;
    } catch {
      return DEFAULT_MESH_CONFIG;
    }
  }

  /**
   * The inbound XFCC mode of the plan in force: a gateway's comes from
   * `gatewayTopology.forwardClientCertDetails` (istio gateway.go), a sidecar's from
   * `proxyHeaders.forwardedClientCert` (listener_inbound.go). SANITIZE when the plan
   * cannot be read: no header of the caller's passes then.
   */
  #xfccMode(): ForwardClientCert {
    try {
      return xfccModeOf(this.#getPlan());
    } catch {
      return 'SANITIZE';
    }
  }

  #settle(key: string, pending: Pending): void {
    pending.done = true;
    if (this.#pending.get(key) === pending) this.#pending.delete(key);
    if (pending.timer !== null) this.#clock.clearTimeout(pending.timer);
    pending.timer = null;
  }

  #currentCerts(): WorkloadCertificates | null {
    if (this.#certs === null) return null;
    const certs = this.#certs.current();
    const mesh = this.#meshConfig();
    if (certs !== this.#applied || mesh !== this.#appliedMesh) {
      // A rotation, or a reload that changed meshConfig (meshMTLS, caCertificates): new
      // handshakes use the new context; established sessions keep theirs.
      const context = {
        key: certs.keyPem,
        cert: certs.certChainPem,
        ca: meshTrustBundle(certs.rootCertPem, mesh),
        ...meshTlsServerOptions(mesh.meshMTLS),
      };
      // The ALPN list is the server's own (set at creation); a new context keeps it.
      this.#tls.setSecureContext(context);
      this.#tlsHttp11.setSecureContext(context);
      // One listener to the client: a ticket from either resumes on the other.
      this.#tlsHttp11.setTicketKeys(this.#tls.getTicketKeys());
      this.#presented.capture(mesh.proxyHeaders.clientCertDetails.chain);
      this.#applied = certs;
      this.#appliedMesh = mesh;
    }
    return certs;
  }

  #keyOf(socket: TLSSocket): string {
    const raw = wrappedSocket(socket);
    return (raw === null ? undefined : this.#keys.get(raw)) ?? remoteKey(socket);
  }

  #handshakeFailed(err: NodeJS.ErrnoException, socket: TLSSocket): void {
    const key = this.#keyOf(socket);
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#settle(key, pending);
    const { reason, detail } = handshakeFailure(err, socket, pending.mode);
    this.#refuse(pending.raw, { reason, mode: pending.mode, port: pending.port, detail });
  }

  #secured(socket: TLSSocket): void {
    const key = this.#keyOf(socket);
    const pending = this.#pending.get(key);
    if (pending === undefined) {
      socket.destroy();
      return;
    }
    this.#settle(key, pending);
    const refuse = (reason: RefusalReason, detail: string) =>
      this.#refuse(socket, { reason, mode: pending.mode, port: pending.port, detail });
    // OpenSSL refused a handshake without a client certificate and Node one whose chain does
    // not verify (rejectUnauthorized): this one presented a certificate that chains to the
    // mesh root. Checked again all the same: it is what the peer identity rests on.
    const x509 = socket.getPeerX509Certificate();
    if (x509 === undefined || !socket.authorized) {
      refuse(
        x509 === undefined ? 'no-client-certificate' : 'untrusted-peer',
        x509 === undefined
          ? `${pending.mode} requires a client certificate`
          : `client certificate not verified: ${String(socket.authorizationError)}`,
      );
      return;
    }
    let meshConfig: MeshPlan['meshConfig'];
    let gateway: boolean;
    try {
      const plan = this.#getPlan();
      meshConfig = plan.meshConfig;
      gateway = plan.inbound.gateway;
    } catch {
      refuse('no-plan', 'the plan could not be read; failing closed');
      return;
    }
    const peer = peerFromCertificate(
      { subjectaltname: x509.subjectAltName },
      acceptedTrustDomains(meshConfig),
    );
    if (peer === null) {
      refuse(
        'untrusted-peer',
        `client certificate has no SPIFFE ID in an accepted trust domain (${[...acceptedTrustDomains(meshConfig)].join(', ')}: trustDomain, trustDomainAliases, caCertificates[].trustDomains): ${x509.subjectAltName ?? 'no SAN'}`,
      );
      return;
    }
    // The element is made once per connection, with the details of the plan in force now.
    const details = gateway ? GATEWAY_CLIENT_CERT_DETAILS : meshConfig.proxyHeaders.clientCertDetails;
    const presented = details.chain ? (this.#presented.of(socket) ?? x509) : x509;
    const element = xfccElement(presented, this.#applied?.spiffeId ?? null, details);
    recordConnectionPeer(socket, { peer, xfccElement: element });
    this.http.emit('connection', socket);
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
    return (event === 'request' ? this.http.listeners(event) : super.listeners(event)) as ((
      ...args: unknown[]
    ) => unknown)[];
  }

  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    if (event === 'request') this.http.on(event, listener as (...args: unknown[]) => void);
    else super.on(event as string, listener as (...args: unknown[]) => void);
    return this;
  }

  override removeAllListeners(event?: string | symbol): this {
    if (event === 'request') this.http.removeAllListeners(event);
    else super.removeAllListeners(event);
    return this;
  }

  closeIdleConnections(): void {
    this.http.closeIdleConnections();
    for (const p of this.#pending.values()) p.raw.destroy();
  }

  /** Destroy every connection. */
  closeAllConnections(): void {
    this.http.closeAllConnections();
    for (const s of this.#sockets) s.destroy();
  }

  /** Stop accepting; idle and handshaking connections close now, busy ones after their response. */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    for (const p of this.#pending.values()) p.raw.destroy();
    // Runs http.Server's pre-close (idle connections, timeout checker); it never listened itself.
    this.http.close(noop);
    return this;
  }
}

/** Create the mTLS-aware server `mesh.listen` and a Fastify `serverFactory` use. */
export function createMeshServer(options: MeshServerOptions): MeshServer {
  return new MeshServer(options);
}
