import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { TransportTls } from '../transport.js';
import { PEER_REJECTED_CODE } from './failure.js';

/** Node `tls.connect` options for a DestinationRule / auto-mTLS client context. */
export interface ClientTlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  ecdhCurve?: string;
  ciphers?: string;
  ALPNProtocols?: string[];
  crl?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

/** Holds the peer check of the latest request of one pool; new connections use it. */
export interface PeerCheck {
  verifyPeer: TransportTls['verifyPeer'];
}

/**
 * The connect options for `tls`. The chain is verified (against `ca`, or the system
 * roots, and `crl` when given) unless `insecureSkipVerify`. Node calls `checkServerIdentity` after the chain check, inside the
 * handshake callback, and destroys the socket when it returns an error, so the request
 * fails with a TLS error. With `verifyPeer` (Istio's SPIFFE or `subjectAltNames`
 * check) that replaces Node's host-name check, as Envoy's SAN matcher replaces it;
 * without, Node's default check runs against the SNI name, unless `checkName` is false.
 */
export function clientTlsOptions(tls: TransportTls, check: PeerCheck): ClientTlsOptions {
  const insecure = tls.insecureSkipVerify === true;
  const checkName = tls.checkName !== false;
  const out: ClientTlsOptions = {
    rejectUnauthorized: !insecure,
    checkServerIdentity: (host, cert) => {
      if (insecure) return undefined;
      const verifyPeer = check.verifyPeer;
      if (verifyPeer === null) return checkName ? checkServerIdentity(host, cert) : undefined;
      const problem = verifyPeer(cert);
      if (problem === null) return undefined;
      return Object.assign(new Error(`upstream certificate rejected: ${problem}`), {
        code: PEER_REJECTED_CODE,
      });
    },
  };
  if (tls.ca !== null) out.ca = tls.ca;
  if (tls.cert !== null) out.cert = tls.cert;
  if (tls.key !== null) out.key = tls.key;
  if (tls.servername !== null) out.servername = tls.servername;
  if (tls.minVersion !== undefined) out.minVersion = tls.minVersion;
  if (tls.ecdhCurve !== undefined) out.ecdhCurve = tls.ecdhCurve;
  if (tls.ciphers !== undefined) out.ciphers = tls.ciphers;
  if (tls.alpn !== undefined) out.ALPNProtocols = [...tls.alpn];
  if (tls.crl !== undefined) out.crl = tls.crl;
  return out;
}
