import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { dnsSans, uriSans } from '../../identity/spiffe.js';
import { rfc2253Name, urlEncodePem } from '../../identity/x509-text.js';

/** What the access log reads of a TLS connection: node's TLSSocket, read only when asked. */
export type TlsConnection = Pick<
  TLSSocket,
  'getPeerX509Certificate' | 'getX509Certificate' | 'getProtocol' | 'getCipher' | 'getSession'
>;

/** A connection's TLS facts as Envoy's `Ssl::ConnectionInfo` reports them. */
export interface TlsFacts {
  readonly tlsVersion: string | null;
  readonly cipher: string | null;
  readonly sessionId: string | null;
  readonly peer: CertFacts | null;
  readonly local: CertFacts | null;
}

/** One certificate's facts (envoy source/common/tls/connection_info_impl_base.cc). */
export interface CertFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  readonly ipSans: readonly string[];
  readonly emailSans: readonly string[];
  /** Lower-case hex, no separators (`sha256PeerCertificateDigest`). */
  readonly sha256: string;
  readonly sha1: string;
  /** Lower-case hex (`serialNumberPeerCertificate`). */
  readonly serial: string;
  /** The PEM, url-encoded as Envoy writes `%DOWNSTREAM_PEER_CERT%`. */
  readonly urlEncodedPem: string;
  readonly validFrom: number | null;
  readonly validTo: number | null;
  /** The DER, for CEL bytes attributes. */
  readonly raw: Uint8Array;
}

/** `IP Address:` / `email:` entries of node's subjectAltName text (neither is ever quoted). */
function sansOf(subjectAltName: string | undefined, prefix: string): string[] {
  if (subjectAltName === undefined) return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(', '))
    if (part.startsWith(prefix)) out.push(part.slice(prefix.length));
  return out;
}

const hex = (colonHex: string): string => colonHex.replace(/:/g, '').toLowerCase();

function certFacts(c: X509Certificate): CertFacts {
  const validFrom = Date.parse(c.validFrom);
  const validTo = Date.parse(c.validTo);
  return {
    subject: rfc2253Name(c.subject),
    issuer: rfc2253Name(c.issuer),
    uriSans: uriSans(c.subjectAltName),
    dnsSans: dnsSans(c.subjectAltName),
    ipSans: sansOf(c.subjectAltName, 'IP Address:'),
    emailSans: sansOf(c.subjectAltName, 'email:'),
    sha256: hex(c.fingerprint256),
    sha1: hex(c.fingerprint),
    serial: c.serialNumber.toLowerCase(),
    urlEncodedPem: urlEncodePem(c.toString()),
    validFrom: Number.isNaN(validFrom) ? null : validFrom,
    validTo: Number.isNaN(validTo) ? null : validTo,
    raw: c.raw,
  };
}

/**
 * The session id in an encoded SSL_SESSION (i2d_SSL_SESSION, node's `getSession()`):
 * SEQUENCE { version INTEGER, sslVersion INTEGER, cipher OCTET STRING, sessionId OCTET
 * STRING, ... }, as hex (envoy `sessionId()`: Hex::encode of SSL_SESSION_get_id).
 */
export function sessionIdOf(der: Uint8Array | undefined): string | null {
  if (der === undefined || der.length < 2 || der[0] !== 0x30) return null;
  let i = 1;
  const length = (): number => {
    const first = der[i++] ?? 0;
    if (first < 0x80) return first;
    let n = 0;
    for (let k = first & 0x7f; k > 0; k--) n = n * 256 + (der[i++] ?? 0);
    return n;
  };
  length();
  for (let field = 0; field < 4 && i < der.length; field++) {
    const tag = der[i++];
    const len = length();
    if (field === 3) {
      if (tag !== 0x04) return null;
      const id = Buffer.from(der.subarray(i, i + len)).toString('hex');
      return id === '' ? null : id;
    }
    i += len;
  }
  return null;
}

const FACTS = new WeakMap<TlsConnection, TlsFacts>();
/** What {@link keepTlsFacts} saved of a connection, in place of the socket. */
const KEPT = new WeakMap<TlsConnection, TlsConnection>();

/**
 * Keeps, unparsed, what node loses of a client TLS socket: its getters read the native
 * handle, gone after `destroy`, and a client's `getPeerX509Certificate()` answers only
 * once (node src/crypto/crypto_x509.cc GetPeerCert takes the certificates off OpenSSL's
 * peer chain, the client's leaf included; see inbound/server/presented-chain.ts). Envoy's stream info holds the
 * connection's Ssl::ConnectionInfo past the close, so a line written after the upstream
 * closed the connection with its response still prints it. Once per connection, at the
 * handshake, with the PEM of the local certificate chain it presented; {@link tlsFactsOf}
 * then reads this instead of the socket.
 */
export function keepTlsFacts(socket: TlsConnection, localPem: string | Buffer | null): void {
  const peer = socket.getPeerX509Certificate();
  const protocol = socket.getProtocol();
  const cipher = socket.getCipher();
  let session: ReturnType<TlsConnection['getSession']>;
  try {
    session = socket.getSession();
  } catch {
    session = undefined;
  }
  const open = socket as TlsConnection & { readonly destroyed?: boolean };
  KEPT.set(socket, {
    getPeerX509Certificate: () => peer,
    // Node's getX509Certificate() costs ~100 µs: not read at the handshake. Once the socket
    // is closed, the certificate the connection was made with (its leaf) stands for it.
    getX509Certificate: () => {
      if (open.destroyed !== true) return socket.getX509Certificate();
      return localPem === null ? undefined : new X509Certificate(localPem);
    },
    getProtocol: () => protocol,
    getCipher: () => cipher,
    // A TLS 1.3 session arrives after the handshake: the live one while the socket is open.
    getSession: () => (open.destroyed === true ? session : (socket.getSession() ?? session)),
  });
}

function read(socket: TlsConnection): TlsFacts {
  const peer = socket.getPeerX509Certificate();
  const local = socket.getX509Certificate();
  let sessionId: string | null;
  try {
    sessionId = sessionIdOf(socket.getSession());
  } catch {
    sessionId = null;
  }
  return {
    tlsVersion: socket.getProtocol() ?? null,
    // OpenSSL's cipher names are Envoy's (SSL_CIPHER_get_name): `TLS_AES_128_GCM_SHA256`,
    // `ECDHE-RSA-AES128-GCM-SHA256`.
    cipher: socket.getCipher()?.name ?? null,
    sessionId,
    peer: peer === undefined ? null : certFacts(peer),
    local: local === undefined ? null : certFacts(local),
  };
}

/**
 * The TLS facts of a connection, read from the socket the first time a log line, filter
 * or tag asks and kept for the connection's later requests: a connection's certificates,
 * version and cipher do not change while it is open.
 */
export function tlsFactsOf(socket: TlsConnection): TlsFacts {
  let f = FACTS.get(socket);
  if (f === undefined) {
    f = read(KEPT.get(socket) ?? socket);
    FACTS.set(socket, f);
  }
  return f;
}

/** The socket when it is a TLS one (node's `encrypted`), else null. */
export function tlsConnectionOf(socket: object | null | undefined): TlsConnection | null {
  if (socket === null || socket === undefined) return null;
  const s = socket as Partial<TLSSocket>;
  return s.encrypted === true && typeof s.getPeerX509Certificate === 'function' ? (s as TlsConnection) : null;
}
