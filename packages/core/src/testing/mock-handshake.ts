import type { PeerCertificate } from 'node:tls';
import type { MtlsMode } from '../compile/inbound-types.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import { TransportError, type TransportTls } from '../outbound/transport.js';
import type { MockCaller, MockEndpoint } from './mock-network.js';

/**
 * The TLS handshake two mock pods would make, decided without one: an Istio client that
 * offers mTLS presents its identity and checks the server's against what it expects (the
 * SAN check of real TLS); a STRICT port closes a plaintext connection, as a sidecar does
 * (a `reset`); a pod without a sidecar cannot speak Istio's mTLS (`tls`, `TLS error`).
 * `appTlsHost` is the host of the caller's own TLS (an https URL the sidecar passes through),
 * else null. Returns the verified peer the server learns (null for plaintext).
 * @throws TransportError `tls` (the handshake failed) or `reset` (the server closed the connection).
 */
export function mockHandshake(
  caller: MockCaller,
  endpoint: MockEndpoint,
  key: string,
  mode: MtlsMode,
  tls: TransportTls | null,
  appTlsHost: string | null,
): PeerIdentity | null {
  const appTls = appTlsHost !== null;
  let peer: PeerIdentity | null = null;
  if (endpoint.identity === null) {
    plainPod(endpoint, key, tls, appTlsHost);
  } else if (tls !== null) {
    if (mode === 'DISABLE') throw handshakeFailed(key, 'the server speaks plaintext');
    const san = `URI:spiffe://${endpoint.identity.principal}`;
    const refused = tls.verifyPeer?.({ subjectaltname: san } as PeerCertificate) ?? null;
    if (refused !== null) throw handshakeFailed(key, refused);
    peer = tls.cert !== null ? caller.identity : null;
  } else if (mode === 'STRICT') {
    // security.md §1: STRICT closes plaintext at the connection, with no HTTP response.
    throw new TransportError('reset', 'socket hang up (STRICT mTLS port, plaintext connection)', false);
  }
  if (endpoint.identity !== null && appTls !== endpoint.serverTls) {
    throw appTls ? handshakeFailed(key, 'the app behind the sidecar speaks plaintext') : plaintextToTls(key);
  }
  return peer;
}

/**
 * A pod without a sidecar: plaintext, or its own TLS with a certificate for its host. A
 * TLS client checks the name (`servername`, else the URL's host) unless told not to, and
 * runs its SAN check on the certificate's DNS SAN.
 */
function plainPod(
  endpoint: MockEndpoint,
  key: string,
  tls: TransportTls | null,
  urlHost: string | null,
): void {
  const tlsFrom = tls !== null || urlHost !== null;
  if (!endpoint.serverTls) {
    if (tlsFrom) throw handshakeFailed(key, 'the server speaks plaintext');
    return;
  }
  if (!tlsFrom) throw plaintextToTls(key);
  if (tls === null) {
    if (!certServes(endpoint.tlsName, urlHost ?? '')) {
      throw handshakeFailed(key, `the certificate is for ${endpoint.tlsName}, not ${String(urlHost)}`);
    }
    return;
  }
  if (tls.insecureSkipVerify === true) return;
  const refused = tls.verifyPeer?.({ subjectaltname: `DNS:${endpoint.tlsName}` } as PeerCertificate) ?? null;
  if (refused !== null) throw handshakeFailed(key, refused);
  const name = tls.servername;
  if (
    tls.verifyPeer === null &&
    tls.checkName !== false &&
    (name === null || !certServes(endpoint.tlsName, name))
  ) {
    throw handshakeFailed(key, `the certificate is for ${endpoint.tlsName}, not ${String(name)}`);
  }
}

function handshakeFailed(key: string, why: string): TransportError {
  return new TransportError('tls', `TLS handshake with ${key} failed: ${why}`, true, {
    transportFailureReason: 'TLS error',
  });
}

/** What an HTTPS server does with a plaintext request: it closes the connection. */
function plaintextToTls(key: string): TransportError {
  return new TransportError('reset', `socket hang up (plaintext to the TLS port ${key})`, false);
}

/** Whether a certificate for `certName` (a `*.` wildcard allowed) serves `name`, as TLS hostname checks go. */
function certServes(certName: string, name: string): boolean {
  const n = name.toLowerCase();
  const c = certName.toLowerCase();
  if (c.startsWith('*.')) return n.endsWith(c.slice(1)) && !n.slice(0, n.length - c.length + 1).includes('.');
  return n === c;
}
