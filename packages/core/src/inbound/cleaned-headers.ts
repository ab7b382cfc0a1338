import { isCleanedHeader } from '../outbound/control-headers.js';
import { REFERER, sanitizedReferer } from '../outbound/referer.js';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import { copyHeaders } from './node-request.js';

/**
 * The headers the connection manager takes off an inbound request before any filter runs,
 * or null when it carries none (the common request): `x-envoy-internal`, which a caller
 * cannot set, and the control headers of a request that is not internal, at a gateway the
 * edge-only ones too (envoy conn_manager_utility.cc mutateRequestHeaders and
 * cleanInternalHeaders; outbound/control-headers.ts says why no request is internal); an
 * invalid `referer`, repeats judged joined (outbound/referer.ts).
 */
export function cleanedHeadersOf(headers: InboundRequest['headers'], gateway: boolean): string[] | null {
  let out: string[] | null = null;
  for (const name in headers) {
    // Most names do not start with `x-envoy-`: one character code decides for them.
    if (name.charCodeAt(0) === 120 && isCleanedHeader(name, gateway)) (out ??= []).push(name);
  }
  const referer = headers[REFERER];
  if (referer !== undefined && sanitizedReferer(referer) === null) (out ??= []).push(REFERER);
  return out;
}

/**
 * A repeated `referer`'s values joined with `,`, the one value the filters and the application
 * see (outbound/referer.ts says why), or null when the request has at most one, or the
 * joined value is invalid (`cleanedHeadersOf` removes it then).
 */
export function joinedRefererOf(headers: InboundRequest['headers']): string | null {
  const referer = headers[REFERER];
  if (referer === undefined || typeof referer === 'string' || referer.length < 2) return null;
  return sanitizedReferer(referer);
}

/** `req` as the filters see it: without the headers `cleanedHeadersOf` found. */
export function withoutCleaned(req: InboundRequest, names: readonly string[]): InboundRequest {
  return { ...req, headers: copyHeaders(req.headers, names) };
}

/** An allowed request reaches the application without them too. */
export function removeCleaned(d: InboundDecision, names: readonly string[]): InboundDecision {
  if (!d.allow) return d;
  return { ...d, removeHeaders: [...d.removeHeaders, ...names] };
}
