import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseSpiffeId, uriSans } from '../identity/spiffe.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import { GATEWAY_CLIENT_CERT_DETAILS, xfccElement } from '../inbound/server/xfcc.js';

/** The SPIFFE identity of each TLS connection's verified client certificate. */
const peers = new WeakMap<Socket, PeerIdentity | null>();

/**
 * The caller's identity on a connection whose client certificate the gateway verified
 * (MUTUAL, ISTIO_MUTUAL): its first SPIFFE URI SAN, as Envoy's RBAC reads `source.principal`
 * from the peer certificate; null on plaintext or without one.
 */
export function tlsPeer(socket: Socket): PeerIdentity | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true) return null;
  let peer = peers.get(socket);
  if (peer === undefined) {
    const cert = tls.getPeerX509Certificate?.();
    const uri =
      cert === undefined ? undefined : uriSans(cert.subjectAltName).find((u) => u.startsWith('spiffe://'));
    peer = uri === undefined ? null : parseSpiffeId(uri);
    peers.set(socket, peer);
  }
  return peer;
}

/** The XFCC element of each TLS connection that presented a verified client certificate. */
const elements = new WeakMap<Socket, string | null>();

/**
 * The element Envoy writes for a verified client certificate (xfcc.ts `xfccElement`), with
 * the Subject, Cert, URI and DNS details istiod asks of a gateway and `By=` the URI SAN of
 * the certificate the gateway served; null on plaintext or without a verified certificate.
 */
export function clientCertElement(socket: Socket): string | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true) return null;
  let element = elements.get(socket);
  if (element === undefined) {
    const peer = tls.getPeerX509Certificate?.();
    const own = tls.getX509Certificate?.();
    element =
      peer === undefined
        ? null
        : xfccElement(
            peer,
            own === undefined ? null : (uriSans(own.subjectAltName)[0] ?? null),
            GATEWAY_CLIENT_CERT_DETAILS,
          );
    elements.set(socket, element);
  }
  return element;
}
