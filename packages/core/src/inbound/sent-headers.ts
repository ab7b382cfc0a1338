import type { ServerResponse } from 'node:http';

type Headers = Record<string, string | readonly string[] | undefined>;

/**
 * The response headers as they went out, lower-case names, repeats as arrays: what
 * Envoy's `%RESP(...)%` reads. `getHeaders()` alone misses every header passed to
 * `writeHead(status, headers)` without an earlier `setHeader` (node writes those
 * straight out; Fastify answers that way), so the header block node wrote is parsed.
 * Read only when an access log line is written. Before the headers went out (the
 * connection closed first), `getHeaders()` is all there is.
 */
export function sentResponseHeaders(res: ServerResponse): Headers {
  const block = (res as { _header?: unknown })._header;
  if (typeof block !== 'string' || block === '') return res.getHeaders() as Headers;
  return headerBlockFields(block);
}

/**
 * The fields of an HTTP/1 head as written (a status line, `name: value` lines, an empty
 * line): lower-case names, repeats as arrays.
 */
export function headerBlockFields(block: string): Headers {
  const out: Headers = {};
  let at = block.indexOf('\r\n') + 2;
  while (at > 1 && at < block.length) {
    const end = block.indexOf('\r\n', at);
    const line = end < 0 ? block.slice(at) : block.slice(at, end);
    at = end < 0 ? block.length : end + 2;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = out[name];
    out[name] = seen === undefined ? value : typeof seen === 'string' ? [seen, value] : [...seen, value];
  }
  return out;
}
