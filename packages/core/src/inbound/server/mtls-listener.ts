import type { X509Certificate } from 'node:crypto';
import { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { MeshPlan } from '../../compile/plan-types.js';
import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../../config/mesh-config.js';
import { meshTlsServerOptions } from '../../identity/mesh-tls.js';
import { acceptedTrustDomains, meshTrustBundle, peerFromCertificate } from '../../identity/spiffe.js';
import type { CertSource, WorkloadCertificates } from '../../identity/types.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { PeerIdentity } from '../request-context.js';
import { handshakeFailure } from './handshake-failure.js';
import { ISTIO_MTLS_ALPNS, offersIstioMtls } from './istio-alpn.js';
import { PresentedChains } from './presented-chain.js';
import { sniffFirstBytes, TLS_HANDSHAKE } from './sniff.js';

/** What every mesh listener (HTTP `MeshServer`, TCP `MeshTcpServer`) is made with. */
export interface MtlsListenerOptions {
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
  | 'no-plan'
  | 'rbac-denied'
  | 'ext-authz-denied';

/** Payload of the `meshConnectionRefused` event. */
export interface ConnectionRefusal {
  readonly reason: RefusalReason;
  readonly mode: MtlsMode | null;
  readonly port: number;
  readonly remoteAddress: string | null;
  readonly detail: string;
}

/** A connection whose client certificate verified, with what the listener knew of it then. */
export interface SecuredConnection {
  readonly socket: TLSSocket;
  readonly peer: PeerIdentity;
  readonly mode: MtlsMode;
  readonly port: number;
  readonly plan: MeshPlan;
  readonly certificate: X509Certificate;
  /** The chain the client presented, when meshConfig asks the listener to keep it. */
  readonly presented: X509Certificate | null;
  /** The local workload's SPIFFE ID in force for the handshake. */
  readonly localSpiffeId: string | null;
}

const noop = () => {};

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
 * A `net.Server` applying Istio's PeerAuthentication to each port it listens on
 * (security.md §1, `plan.inbound.peerAuthentication.modeFor(port)` read per connection):
 * STRICT accepts only TLS with a client certificate verified against the mesh root and
 * trust domain, and closes anything else at the connection (no response, as Envoy's
 * TLS-only filter chains do); PERMISSIVE sniffs the first bytes (a ClientHello, as Envoy's
 * tls_inspector finds one) and terminates mTLS for a ClientHello offering an Istio ALPN;
 * DISABLE serves plaintext. Certificate rotations apply to new handshakes; open
 * connections keep theirs. What is served, and how a PERMISSIVE port treats TLS that is
 * not Istio mTLS, is the subclass's. Emits `meshConnectionRefused` (ConnectionRefusal)
 * for every refused connection.
 */
export abstract class MtlsListener extends NetServer {
  readonly #getPlan: () => MeshPlan;
  readonly #certs: CertSource | null;
  readonly #clock: Clock;
  readonly #handshakeTimeoutMs: number;
  readonly #tls: TlsServer;
  /** The same, selecting an ALPN of `#alpn`: for a ClientHello that offers one. */
  readonly #tlsAlpn: TlsServer | null;
  readonly #alpn: readonly string[] | null;
  /** The chains clients present, for XFCC `Chain`: captured only while meshConfig asks for it. */
  readonly #presented: PresentedChains;
  #applied: WorkloadCertificates | null = null;
  #appliedMesh: MeshConfig | null = null;
  readonly #pending = new Map<string, Pending>();
  /** The key of each accepted socket in #pending. */
  readonly #keys = new WeakMap<Socket, string>();
  readonly #sockets = new Set<Socket>();

  /**
   * `alpn`: the ALPN values the listener's chains advertise, selected for a ClientHello
   * offering one of them (`http/1.1` for HTTP; `istio-peer-exchange`, `h2`, `http/1.1` for TCP).
   */
  protected constructor(options: MtlsListenerOptions, alpn: readonly string[] | null) {
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
    // the handshake with a fatal alert. So a ClientHello offering one of the listener's values
    // (http/1.1 for HTTP; istio-peer-exchange for TCP, which then runs the metadata exchange)
    // goes to a server that selects it, any other to one that ignores ALPN.
    const tlsOptions = { requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' } as const;
    this.#tls = createTlsServer(tlsOptions);
    this.#alpn = alpn;
    this.#tlsAlpn = alpn === null ? null : createTlsServer({ ...tlsOptions, ALPNProtocols: [...alpn] });
    const servers = this.#tlsAlpn === null ? [this.#tls] : [this.#tls, this.#tlsAlpn];
    this.#presented = new PresentedChains(servers);
    for (const tls of servers) {
      tls.on('secureConnection', (s: TLSSocket) => this.#secured(s));
      tls.on('tlsClientError', (err: Error, s: TLSSocket) => this.#handshakeFailed(err, s));
    }
    this.on('connection', (socket: Socket) => this.#accept(socket));
  }

  /**
   * Serve a connection the mesh does not terminate: plaintext (DISABLE, or plaintext on a
   * PERMISSIVE port), or TLS passed through (`serverName`: its ClientHello's SNI).
   */
  protected abstract servePlain(raw: Socket, mode: MtlsMode, serverName: string | null): void;

  /** Serve a connection whose mTLS handshake verified. */
  protected abstract serveSecured(c: SecuredConnection): void;

  /**
   * A ClientHello on a PERMISSIVE port that offers ALPN but no Istio value: an HTTP port
   * has no chain for it (closed, `no-filter-chain`); a TCP port passes it through as TCP
   * (`servePlain`, the application terminates its own TLS).
   */
  protected abstract readonly passesForeignTls: boolean;

  /** Close `socket` and report why (`meshConnectionRefused`). */
  protected refuse(socket: Socket, refusal: Omit<ConnectionRefusal, 'remoteAddress'>): void {
    const event: ConnectionRefusal = Object.freeze({
      ...refusal,
      remoteAddress: socket.remoteAddress ?? null,
    });
    socket.destroy();
    this.emit('meshConnectionRefused', event);
  }

  /** The listener's clock (timeouts). */
  protected get clock(): Clock {
    return this.#clock;
  }

  /** How long a connection may take to show what it is (handshake, first bytes) before it is closed. */
  protected get handshakeTimeoutMs(): number {
    return this.#handshakeTimeoutMs;
  }

  /** The plan in force, or null when it cannot be read. */
  protected plan(): MeshPlan | null {
    try {
      return this.#getPlan();
    } catch {
      return null;
    }
  }

  /** meshConfig of the plan in force (Istio's defaults when it cannot be read). */
  protected meshConfig(): MeshConfig {
    return this.plan()?.meshConfig ?? DEFAULT_MESH_CONFIG;
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
      this.refuse(raw, {
        reason: 'no-plan',
        mode,
        port,
        detail: 'the plan could not be read; failing closed',
      });
      return;
    }
    if (mode === 'DISABLE') {
      this.servePlain(raw, mode, null);
      return;
    }
    const key = remoteKey(raw);
    this.#keys.set(raw, key);
    const pending: Pending = { raw, mode, port, timer: null, done: false };
    pending.timer = this.#clock.setTimeout(() => {
      this.#settle(key, pending);
      this.refuse(raw, {
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
        this.refuse(raw, {
          reason: 'handshake-failed',
          mode,
          port,
          detail: 'the connection closed during the handshake',
        });
      });
    });
    // PERMISSIVE's protocol detection timeout (meshConfig `protocolDetectionTimeout`): a
    // client that has sent nothing by then is taken as plaintext, as the inbound listener's
    // `continue_on_listener_filters_timeout` goes on with transport `raw_buffer` (istio
    // listener_inbound.go): a server-first protocol's server speaks first. STRICT has no
    // plaintext chain to go on to.
    const detectMs = mode === 'PERMISSIVE' ? this.meshConfig().protocolDetectionTimeoutMs : 0;
    let detectTimer: unknown = null;
    const stopSniffing = sniffFirstBytes(raw, ({ first, clientHello, alpn, serverName }) => {
      if (detectTimer !== null) this.#clock.clearTimeout(detectTimer);
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
        this.#settle(key, pending);
        if (mode === 'STRICT') {
          this.refuse(raw, {
            reason: 'plaintext-in-strict',
            mode,
            port,
            detail: 'plaintext on a STRICT port',
          });
          return;
        }
        this.servePlain(raw, mode, null);
        return;
      }
      // A PERMISSIVE port's mTLS chain matches Istio's ALPN values; a ClientHello offering
      // others matches the HTTP port's no chain (Envoy closes it before a handshake, no
      // alert) and the TCP port's plain-TLS passthrough chain (istio filterchain_options.go
      // inboundPermissiveTCPFilterChainMatchWithMxcOptions). STRICT's one TLS chain takes any
      // ALPN.
      if (mode === 'PERMISSIVE' && alpn !== null && !offersIstioMtls(alpn)) {
        this.#settle(key, pending);
        if (this.passesForeignTls) {
          this.servePlain(raw, mode, serverName);
          return;
        }
        this.refuse(raw, {
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
        this.refuse(raw, {
          reason: 'no-workload-certificates',
          mode,
          port,
          detail: 'a TLS client arrived but the server has no workload certificates',
        });
        return;
      }
      const server =
        this.#tlsAlpn !== null && alpn?.some((p) => this.#alpn?.includes(p) === true) === true
          ? this.#tlsAlpn
          : this.#tls;
      server.emit('connection', raw);
    });
    if (detectMs > 0)
      detectTimer = this.#clock.setTimeout(() => {
        if (pending.done) return;
        stopSniffing();
        this.#settle(key, pending);
        this.servePlain(raw, mode, null);
      }, detectMs);
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
    const mesh = this.meshConfig();
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
      if (this.#tlsAlpn !== null) {
        this.#tlsAlpn.setSecureContext(context);
        // One listener to the client: a ticket from either resumes on the other.
        this.#tlsAlpn.setTicketKeys(this.#tls.getTicketKeys());
      }
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
    this.refuse(pending.raw, { reason, mode: pending.mode, port: pending.port, detail });
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
      this.refuse(socket, { reason, mode: pending.mode, port: pending.port, detail });
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
    const plan = this.plan();
    if (plan === null) {
      refuse('no-plan', 'the plan could not be read; failing closed');
      return;
    }
    const meshConfig = plan.meshConfig;
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
    this.serveSecured({
      socket,
      peer,
      mode: pending.mode,
      port: pending.port,
      plan,
      certificate: x509,
      presented: this.#presented.of(socket) ?? null,
      localSpiffeId: this.#applied?.spiffeId ?? null,
    });
  }

  /** Connections still handshaking or being sniffed are dropped. */
  protected dropPending(): void {
    for (const p of this.#pending.values()) p.raw.destroy();
  }

  /** Every accepted connection is destroyed. */
  protected destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  /** Stop accepting; connections still handshaking close now. */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.dropPending();
    return this;
  }
}
