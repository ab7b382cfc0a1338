import type { InboundRequest } from '../engine-types.js';

/**
 * Envoy's default `max_headers_count` (core.v3.HttpProtocolOptions): istiod sets none on its
 * listeners, so every sidecar and gateway refuses a request with more headers than this.
 */
export const MAX_HEADERS_COUNT = 100;

/** The local reply's body: CodeUtility::toString(431), as the HTTP/1 codec sends it. */
export const TOO_MANY_HEADERS_BODY = 'Request Header Fields Too Large';

/** A codec error ends the connection after the local reply. */
export const CLOSE_CONNECTION: Readonly<Record<string, string>> = Object.freeze({ connection: 'close' });

/**
 * Why the HTTP/1 codec refuses `req` for its header count, or null when it does not (envoy
 * http1 codec_impl.cc completeCurrentHeader). Each header line counts; Envoy counts a repeat
 * of a header it keeps inline (`referer`, `x-forwarded-for`, ...) once, so a request can only
 * reach the limit earlier here when it repeats one of those.
 */
export function headerCountProblem(req: InboundRequest): string | null {
  const count = req.headerCount ?? countHeaders(req.headers);
  if (count <= MAX_HEADERS_COUNT) return null;
  return `${count} request headers, over the limit of ${MAX_HEADERS_COUNT} (max_headers_count)`;
}

/** Header lines in a header map: one per value, a repeated header's each. */
export function countHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): number {
  let n = 0;
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined) n += typeof v === 'string' ? 1 : v.length;
  }
  return n;
}
