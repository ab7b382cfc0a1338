import { createHash, type X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { uriSans } from '../../identity/spiffe.js';

const XFCC = 'x-forwarded-client-cert';

function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The element Envoy's sidecar adds for a verified client certificate under Istio's
 * inbound default `APPEND_FORWARD` with `Subject`, `URI` and `DNS` details
 * (security.md §1; envoy http_conn_man/headers.rst): `By=<own URI SAN>;Hash=<sha256 hex
 * of the client DER>;Subject="<RFC 2253 subject>";URI=<client URI SAN>;DNS=<each DNS SAN>`.
 */
export function xfccElement(client: X509Certificate, ownUri: string | null): string {
  const parts: string[] = [];
  if (ownUri !== null) parts.push(`By=${ownUri}`);
  parts.push(`Hash=${createHash('sha256').update(client.raw).digest('hex')}`);
  // node lists RDNs top-down, one per line; RFC 2253 writes them bottom-up, comma-separated.
  parts.push(`Subject=${quoted((client.subject ?? '').split('\n').filter(Boolean).reverse().join(','))}`);
  const uri = uriSans(client.subjectAltName)[0];
  if (uri !== undefined) parts.push(`URI=${uri}`);
  for (const entry of (client.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) parts.push(`DNS=${entry.slice(4)}`);
  }
  return parts.join(';');
}

/**
 * Make `X-Forwarded-Client-Cert` what Envoy's sidecar would forward: removed on a
 * connection without a verified client certificate (every mode but ALWAYS_FORWARD_ONLY
 * strips it there), and on mTLS the caller's value followed by our own element, the only
 * one that can be trusted. Identity never comes from this header.
 */
export function rewriteXfcc(req: IncomingMessage, element: string | null): void {
  const header = req.headers[XFCC];
  const prior = Array.isArray(header) ? header.join(',') : header;
  if (prior === undefined && element === null) return;
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    if (name.toLowerCase() !== XFCC) raw.push(name, req.rawHeaders[i + 1] as string);
  }
  if (element === null) {
    delete req.headers[XFCC];
  } else {
    const value = prior === undefined || prior === '' ? element : `${prior},${element}`;
    req.headers[XFCC] = value;
    raw.push('x-forwarded-client-cert', value);
  }
  req.rawHeaders.splice(0, req.rawHeaders.length, ...raw);
}
