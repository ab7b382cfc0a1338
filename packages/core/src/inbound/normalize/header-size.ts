import type { InboundRequest } from '../engine-types.js';

/**
 * Envoy's default `max_request_headers_kb`, 60 (http_connection_manager.proto; istiod sets none):
 * the HTTP/1 codec refuses a request whose URL and header names and values add up to more
 * bytes than this (codec_impl.cc ServerConnectionImpl::getHeadersSize, checkMaxHeadersSize),
 * `431` `http1.headers_too_large`.
 */
export const MAX_REQUEST_HEADERS_BYTES = 60 * 1024;

/**
 * node's own limit on a request's head (`maxHeaderSize`) on the servers meshlet makes: above
 * Envoy's, since node counts the request line, the `: ` and the line ends too (100 headers,
 * the most a request may have, add 400 bytes), so node refuses nothing Envoy takes and the
 * engine applies Envoy's count ({@link headerSizeProblem}).
 */
export const NODE_MAX_HEADER_SIZE = 64 * 1024;

/** The bytes of header names and values in node's `rawHeaders` (each a latin1 string). */
export function rawHeaderBytes(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i++) n += raw[i]!.length;
  return n;
}

/** The bytes of header names and values in a header map, a repeated header's each value. */
export function headerMapBytes(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): number {
  let n = 0;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') n += name.length + v.length;
    else for (const one of v) n += name.length + one.length;
  }
  return n;
}

/**
 * Why the HTTP/1 codec refuses `req` for the size of its headers, or null when it does not:
 * its URL and header names and values (`headerBytes`, else counted off `headers`) over
 * {@link MAX_REQUEST_HEADERS_BYTES}.
 */
export function headerSizeProblem(req: InboundRequest): string | null {
  const size = req.url.length + (req.headerBytes ?? headerMapBytes(req.headers));
  if (size <= MAX_REQUEST_HEADERS_BYTES) return null;
  return `${size} bytes of URL and headers, over the limit of ${MAX_REQUEST_HEADERS_BYTES} (max_request_headers_kb)`;
}
