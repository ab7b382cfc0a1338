import type { CorsPolicy } from '../compile/plan-types.js';
import type { LocalReply } from './local-reply.js';
import { headerValue, type HeaderRecord } from './request-input.js';

/**
 * A CORS request on a route with a `corsPolicy`, as Envoy's CORS filter decoded it
 * (source/extensions/filters/http/cors/cors_filter.cc decodeHeaders).
 */
export interface CorsRequest {
  readonly policy: CorsPolicy;
  /** The request's Origin when the policy allows it (the filter's `latched_origin_`), else null. */
  readonly origin: string | null;
  /** The filter's own answer to a preflight; null lets the request go on to the router. */
  readonly preflight: LocalReply | null;
}

/**
 * The CORS filter's decision for a routed request: null when the route has no policy or
 * the request no (or an empty) Origin. A preflight is an OPTIONS with a non-empty
 * `access-control-request-method`. One from an origin the policy does not allow goes
 * upstream like any request under `unmatchedPreflights: FORWARD` (istiod's default,
 * `forward_not_matching_preflights: true`), and is answered without an allow-origin under
 * IGNORE.
 */
export function corsRequest(
  policy: CorsPolicy | null,
  method: string,
  headers: HeaderRecord,
): CorsRequest | null {
  if (policy === null) return null;
  const origin = headerValue(headers, 'origin');
  if (origin === undefined || origin === '') return null;
  const allowed = policy.originAllowed(origin) ? origin : null;
  const requested = method === 'OPTIONS' ? headerValue(headers, 'access-control-request-method') : undefined;
  if (
    requested === undefined ||
    requested === '' ||
    (allowed === null && policy.unmatchedPreflights === 'FORWARD')
  )
    return { policy, origin: allowed, preflight: null };
  return { policy, origin: allowed, preflight: preflightReply(policy, allowed, requested, headers) };
}

/**
 * The preflight answer: `200` with headers only (Envoy's codec writes `content-length: 0`),
 * details `cors_response`. `*` in allowMethods or allowHeaders echoes what the preflight
 * asked for.
 */
function preflightReply(
  policy: CorsPolicy,
  origin: string | null,
  requestedMethod: string,
  headers: HeaderRecord,
): LocalReply {
  const out: Record<string, string> = {};
  if (origin !== null) out['access-control-allow-origin'] = origin;
  if (policy.allowCredentials === true) out['access-control-allow-credentials'] = 'true';
  const methods = policy.allowMethods.join(',');
  if (methods !== '') out['access-control-allow-methods'] = methods === '*' ? requestedMethod : methods;
  const allowHeaders = policy.allowHeaders.join(',');
  if (allowHeaders !== '')
    out['access-control-allow-headers'] =
      allowHeaders === '*' ? (headerValue(headers, 'access-control-request-headers') ?? '') : allowHeaders;
  // istiod writes maxAge as whole seconds (route.go TranslateCORSPolicy: FormatInt(GetSeconds())).
  if (policy.maxAgeMs !== null) out['access-control-max-age'] = String(Math.floor(policy.maxAgeMs / 1000));
  out['content-length'] = '0';
  return { status: 200, headers: out, body: Buffer.alloc(0), flag: null, details: 'cors_response' };
}

/**
 * The filter's encodeHeaders: every response to a CORS request from an allowed origin, the
 * upstream's and the router's local replies alike, gets the allow-origin, credentials and
 * expose-headers, set over whatever the route's header operations wrote.
 */
export function addCorsHeaders(out: HeaderRecord, cors: CorsRequest | null): void {
  if (cors === null || cors.origin === null) return;
  out['access-control-allow-origin'] = cors.origin;
  if (cors.policy.allowCredentials === true) out['access-control-allow-credentials'] = 'true';
  if (cors.policy.exposeHeaders.length > 0)
    out['access-control-expose-headers'] = cors.policy.exposeHeaders.join(',');
}
