import { createHash } from 'node:crypto';
import type { ClientCertDetails } from '../config/mesh-config.js';
import { connectionPeerOf } from '../inbound/server/peer-registry.js';
import { rewriteXfcc, xfccModeOf } from '../inbound/server/xfcc.js';
import type { PeerIdentity } from '../inbound/request-context.js';
import type { Mesh } from '../mesh/types.js';
import type { RequestListener } from './app-listener.js';
import { virtualCertificateText } from './virtual-certs.js';

/**
 * The `X-Forwarded-Client-Cert` element a sidecar writes for an mTLS caller
 * (inbound/server/xfcc.ts xfccElement), from identities instead of certificates: `By` the
 * pod's SPIFFE ID, `Hash` the SHA-256 of the caller's mock certificate text (no DER
 * exists), `Subject=""` (Istio's workload certificates have an empty subject) and `URI`
 * the caller's SPIFFE ID, each as `details` asks. A mock certificate has no PEM and no DNS
 * SAN, so `Cert`, `Chain` and `DNS` are never written.
 */
export function mockXfccElement(own: PeerIdentity, peer: PeerIdentity, details: ClientCertDetails): string {
  const parts = [
    `By=spiffe://${own.principal}`,
    `Hash=${createHash('sha256').update(virtualCertificateText(peer)).digest('hex')}`,
  ];
  if (details.subject) parts.push('Subject=""');
  if (details.uri) parts.push(`URI=spiffe://${peer.principal}`);
  return parts.join(';');
}

/**
 * `listener` behind the XFCC rewrite the mesh server does for each request (forward,
 * append, sanitize or set, per the plan's mode), with the caller's element when the
 * connection was mTLS. Identity never comes from the header.
 */
export function withXfcc(listener: RequestListener, mesh: Mesh, own: PeerIdentity): RequestListener {
  return (req, res) => {
    const peer = connectionPeerOf(req.socket)?.peer ?? null;
    const element =
      peer === null ? null : mockXfccElement(own, peer, mesh.plan.meshConfig.proxyHeaders.clientCertDetails);
    rewriteXfcc(req, element, () => xfccModeOf(mesh.plan));
    listener(req, res);
  };
}
