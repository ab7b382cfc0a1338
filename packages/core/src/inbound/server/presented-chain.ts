import type { X509Certificate } from 'node:crypto';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

/**
 * The certificates a TLS client presented, leaf first, in the order it sent them: what
 * Envoy's XFCC `Chain` holds (source/common/tls/connection_info_impl_base.cc
 * urlEncodedPemEncodedPeerCertificateChain, SSL_get_peer_full_cert_chain).
 *
 * Node shows them once per connection: the first `getPeerX509Certificate()` links them
 * through `issuerCertificate` and takes them out of OpenSSL's peer chain as it goes (node
 * src/crypto/crypto_x509.cc X509Certificate::GetPeerCert and New, sk_X509_delete); later
 * calls get the leaf alone. Since Node 24.21 (and 26.8) tls.Server makes that first call
 * itself, in its own 'secure' listener, before 'secureConnection' (lib/internal/tls/wrap.js
 * onServerSocketSecure, nodejs/node#64677; reported as nodejs/node#65579). So while
 * capturing, a server 'keylog' listener (the one public event that hands over the TLSSocket
 * during the handshake) puts a 'secure' listener ahead of Node's, which makes the first
 * call. Node's own check after it still gets the leaf it tests for.
 *
 * `getPeerCertificate(true)` is no substitute: after the certificates left in OpenSSL's peer
 * chain (none past the leaf once the first call is made) it adds issuers from the server's
 * trust store until a self-signed one (node src/crypto/crypto_common.cc GetPeerCert,
 * GetLastIssuedCert): a root the client may never have sent, and never the intermediates
 * the store lacks.
 *
 * OpenSSL keeps only the leaf in a resumed session, so a resumed connection has no chain
 * past its leaf here (BoringSSL keeps the chain in the session; Envoy shows it).
 */
export class PresentedChains {
  readonly #servers: readonly TlsServer[];
  readonly #chains = new WeakMap<TLSSocket, X509Certificate>();
  readonly #armed = new WeakSet<TLSSocket>();
  #on = false;

  readonly #onKeylog = (_line: Buffer, socket: TLSSocket): void => {
    // 'keylog' comes once per secret, several times a handshake.
    if (this.#armed.has(socket)) return;
    this.#armed.add(socket);
    socket.prependOnceListener('secure', () => {
      const leaf = socket.getPeerX509Certificate();
      if (leaf !== undefined) this.#chains.set(socket, leaf);
    });
  };

  constructor(servers: readonly TlsServer[]) {
    this.#servers = servers;
  }

  /**
   * Capture from the next connection on (true) or stop (false). A 'keylog' listener costs
   * every handshake a few callbacks, so it is there only while a plan asks for `Chain`.
   */
  capture(on: boolean): void {
    if (on === this.#on) return;
    this.#on = on;
    for (const server of this.#servers) {
      if (on) server.on('keylog', this.#onKeylog);
      else server.off('keylog', this.#onKeylog);
    }
  }

  /** The client's leaf, the certificates it presented linked after it; undefined if not seen. */
  of(socket: TLSSocket): X509Certificate | undefined {
    return this.#chains.get(socket);
  }
}
