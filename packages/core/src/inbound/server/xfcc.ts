import { createHash, type X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { MeshPlan } from '../../compile/plan-types.js';
import type { ClientCertDetails, ForwardClientCert } from '../../config/mesh-config.js';
import { dnsSans, uriSans } from '../../identity/spiffe.js';
import { rfc2253Name, urlEncodePem } from '../../identity/x509-text.js';

const XFCC = 'x-forwarded-client-cert';

/**
 * The details a gateway's element carries under APPEND_FORWARD and SANITIZE_SET: Subject,
 * Cert, URI and DNS, whatever `proxyHeaders` says (istio pilot/pkg/networking/core/gateway.go).
 */
export const GATEWAY_CLIENT_CERT_DETAILS: ClientCertDetails = Object.freeze({
  subject: true,
  uri: true,
  dns: true,
  cert: true,
  chain: false,
});

/**
 * The inbound XFCC mode of `plan`: a gateway's comes from
 * `gatewayTopology.forwardClientCertDetails` (istio gateway.go), a sidecar's from
 * `proxyHeaders.forwardedClientCert` (listener_inbound.go).
 */
export function xfccModeOf(plan: MeshPlan): ForwardClientCert {
  return plan.inbound.gateway
    ? plan.meshConfig.gatewayForwardClientCert
    : plan.meshConfig.proxyHeaders.forwardedClientCert;
}

/**
 * The element Envoy's connection manager sets or appends for a verified client certificate
 * (envoy source/common/http/conn_manager_utility.cc mutateXfccRequestHeader), `;`-joined:
 * `By=<own URI SAN>`, `Hash=<sha256 hex of the client DER>`, then the details asked for in
 * Envoy's fixed order (http_connection_manager/config.cc): Cert, Chain, Subject, URI, DNS.
 * `client` is the client's leaf; for Chain, its `issuerCertificate` links are the certificates
 * the client presented after it, in the order sent, as Envoy's Chain has them
 * (SSL_get_peer_full_cert_chain): what PresentedChains captured (presented-chain.ts, which
 * says why `getPeerCertificate(true)` would not do).
 */
export function xfccElement(
  client: X509Certificate,
  ownUri: string | null,
  details: ClientCertDetails,
): string {
  const parts: string[] = [];
  if (ownUri !== null) parts.push(`By=${ownUri}`);
  parts.push(`Hash=${createHash('sha256').update(client.raw).digest('hex')}`);
  if (details.cert) parts.push(`Cert="${urlEncodePem(client.toString())}"`);
  if (details.chain) {
    let pems = '';
    const seen = new Set<X509Certificate>();
    for (
      let c: X509Certificate | undefined = client;
      c !== undefined && !seen.has(c);
      c = c.issuerCertificate
    ) {
      seen.add(c);
      pems += c.toString();
    }
    if (pems !== '') parts.push(`Chain="${urlEncodePem(pems)}"`);
  }
  // Present even when the subject is empty, as Envoy writes it; quoted as it is, the
  // RFC 2253 escapes (`\"`, `\\`) being the only ones.
  if (details.subject) parts.push(`Subject="${rfc2253Name(client.subject)}"`);
  if (details.uri) {
    const uris = uriSans(client.subjectAltName);
    // mutateXfccRequestHeader: "The URI key still exists even if the URI is empty".
    if (uris.length === 0) parts.push('URI=');
    for (const uri of uris) parts.push(`URI=${uri}`);
  }
  if (details.dns) for (const dns of dnsSans(client.subjectAltName)) parts.push(`DNS=${dns}`);
  return parts.join(';');
}

function withoutXfcc(rawHeaders: string[]): string[] {
  const raw: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.toLowerCase() !== XFCC) raw.push(name, rawHeaders[i + 1] as string);
  }
  return raw;
}

/**
 * Make `X-Forwarded-Client-Cert` what Envoy's connection manager forwards
 * (conn_manager_utility.cc mutateXfccRequestHeader). `element` is this connection's own
 * element, null without a verified client certificate; `modeOf` is read only when there is
 * a header or an element, so a plaintext request without the header costs nothing more.
 * ALWAYS_FORWARD_ONLY forwards the header untouched, even on plaintext; otherwise it is
 * removed under SANITIZE and without a client certificate; on mTLS, FORWARD_ONLY forwards
 * it untouched, APPEND_FORWARD appends our element after `,`, SANITIZE_SET replaces it with
 * our element. Identity never comes from this header.
 */
export function rewriteXfcc(
  req: IncomingMessage,
  element: string | null,
  modeOf: () => ForwardClientCert,
): void {
  const header = req.headers[XFCC];
  if (header === undefined && element === null) return;
  const mode = modeOf();
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  if (mode === 'SANITIZE' || element === null) {
    if (header === undefined) return;
    delete req.headers[XFCC];
    req.rawHeaders.splice(0, req.rawHeaders.length, ...withoutXfcc(req.rawHeaders));
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  const prior = Array.isArray(header) ? header.join(',') : header;
  // APPEND_FORWARD appends after a `,` (HeaderMap append: no delimiter after an empty value).
  const value =
    mode === 'APPEND_FORWARD' && prior !== undefined && prior !== '' ? `${prior},${element}` : element;
  const raw = header === undefined ? req.rawHeaders : withoutXfcc(req.rawHeaders);
  req.headers[XFCC] = value;
  raw.push('x-forwarded-client-cert', value);
  if (raw !== req.rawHeaders) req.rawHeaders.splice(0, req.rawHeaders.length, ...raw);
}
