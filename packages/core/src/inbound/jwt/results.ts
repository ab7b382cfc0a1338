import type { InboundRequest } from '../engine-types.js';
import { httpStatusFor, JWT_STATUS } from './status.js';
import type { JwtStatus } from './status.js';
import type { JwtResult } from './types.js';

/** No token where any rule looks: the request passes without a principal. */
export const NONE: JwtResult = Object.freeze({ kind: 'none' });

/** Envoy `buildOriginalUri` truncates the path to 256 characters (jwt_authn filter.cc `MaximumUriLength`). */
const MAX_REALM_PATH = 256;

/**
 * A refusal as Envoy's jwt_authn sends it: the status text as body and
 * `WWW-Authenticate: Bearer realm="<scheme>://<host><path>", error="invalid_token"`
 * (filter.cc `onComplete`; the realm is the request's original URI, path cut at 256).
 */
export function denyResult(status: JwtStatus, req: InboundRequest): JwtResult {
  const hash = req.url.indexOf('#');
  const path = (hash < 0 ? req.url : req.url.slice(0, hash)).slice(0, MAX_REALM_PATH);
  const realm = headerSafe(`${req.scheme}://${req.authority}${path}`);
  return Object.freeze({
    kind: 'deny',
    status: httpStatusFor(status),
    body: JWT_STATUS[status],
    headers: Object.freeze({ 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` }),
  });
}

/** Drops characters no HTTP header value may carry, so an adapter never throws setting it. */
function headerSafe(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x7f && c <= 0xff) out += text[i];
  }
  return out;
}
