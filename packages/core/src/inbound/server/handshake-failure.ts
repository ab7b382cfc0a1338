import type { TLSSocket } from 'node:tls';
import type { MtlsMode } from '../../compile/inbound-types.js';
import type { RefusalReason } from './mesh-server.js';

/** OpenSSL's error when a client sent no certificate and the server required one. */
const NO_CLIENT_CERTIFICATE = 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE';

/**
 * Why a TLS handshake on the mesh server failed (`tlsClientError`): no client certificate
 * (OpenSSL sent the client certificate_required on TLS 1.3, handshake_failure on TLS 1.2,
 * as Envoy's BoringSSL does), a certificate whose chain Node rejected (it destroys the
 * socket without an alert and leaves the reason in `authorizationError`), or anything else
 * (versions, ciphers, a malformed hello).
 */
export function handshakeFailure(
  err: NodeJS.ErrnoException,
  socket: TLSSocket,
  mode: MtlsMode,
): { readonly reason: RefusalReason; readonly detail: string } {
  if (err.code === NO_CLIENT_CERTIFICATE)
    return {
      reason: 'no-client-certificate',
      detail: `${mode} requires a client certificate (TLS alert certificate_required, or handshake_failure on TLS 1.2)`,
    };
  // Typed as an Error, set to the X509 error code (CERT_HAS_EXPIRED, ...).
  const unverified = socket.authorizationError as Error | string | undefined | null;
  if (unverified !== undefined && unverified !== null)
    return { reason: 'untrusted-peer', detail: `client certificate not verified: ${String(unverified)}` };
  return { reason: 'handshake-failed', detail: err.message };
}
