import type { InboundRequest } from '../engine-types.js';

/** The local reply's body: CodeUtility::toString(501). */
export const NOT_IMPLEMENTED_BODY = 'Not Implemented';

/**
 * Why Envoy's HTTP/1 codec refuses `req` for its `Transfer-Encoding`, or null when it does not
 * (envoy http1 codec_impl.cc onHeadersCompleteImpl, RFC 7230 §3.3.1: a transfer coding it
 * does not understand): any value but `chunked` (any case), and any on a CONNECT, is `501`.
 * node's parser takes `gzip, chunked` and hands the request on, and hands on a lone `gzip`
 * before failing on its body; Envoy refuses both before any filter. Repeated headers are one
 * value joined with `,`, as Envoy keeps the header inline.
 */
export function transferEncodingProblem(req: InboundRequest): string | null {
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return null;
  const value = typeof te === 'string' ? te : te.join(',');
  if (req.method === 'CONNECT') return `a CONNECT request with transfer-encoding ${JSON.stringify(value)}`;
  if (value.trim().toLowerCase() === 'chunked') return null;
  return `transfer-encoding ${JSON.stringify(value)} is not chunked`;
}
