import type { Duplex } from 'node:stream';
import type { ResponseHeaders } from '../engine-types.js';
import { DECORATOR_OPERATION } from '../forwarded-response.js';

/** What the sidecar adds to the head an application answers an upgrade request with. */
export interface UpgradeResponseFields {
  /** The decision's response headers (the metadata exchange's answer, rate limit headers...). */
  readonly headers: ResponseHeaders;
  /** The route's tracing operation, when the request's telemetry left one. */
  readonly operation: string | undefined;
  /** The `server` header's value, or null to pass the application's through. */
  readonly server: string | null;
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

/**
 * Adds to the response head the application writes on an upgrade's connection (a 101, or
 * a refusal) what the inbound sidecar adds to a response it forwards: the decision's
 * response headers (the metadata exchange's answer...), `x-envoy-decorator-operation` and
 * `server`, each replacing the application's line of that name (forwarded-response.ts
 * has the sources). No `x-envoy-upstream-service-time`: Envoy's HTTP/1 codec decodes an
 * upgrade request's headers with end_stream false and never completes it (http1
 * codec_impl.cc onMessageCompleteBase asserts it is no upgrade), and the router times only
 * a complete request (router.cc onUpstreamHeaders, `downstream_request_complete_time_`).
 * The head is read from the application's first write, which is where a WebSocket server
 * writes it whole; a head split over writes, or a first write that is no HTTP head, goes
 * out as written.
 */
export function stampUpgradeResponse(socket: Duplex, fields: UpgradeResponseFields): void {
  const lines: [string, string][] = [];
  for (const name in fields.headers) {
    const v = fields.headers[name]!;
    for (const one of typeof v === 'string' ? [v] : v) lines.push([name.toLowerCase(), one]);
  }
  if (fields.operation !== undefined) lines.push([DECORATOR_OPERATION, fields.operation]);
  if (fields.server !== null) lines.push(['server', fields.server]);
  if (lines.length === 0) return;
  const replaced = new Set(lines.map(([name]) => name));
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored on the socket below
  const write = socket.write as Write;
  (socket as { write: Write }).write = function stampedWrite(this: Duplex, chunk, ...rest) {
    (this as { write: Write }).write = write;
    const encoding = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
    const buf =
      typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk instanceof Uint8Array ? chunk : null;
    const end =
      buf === null ? -1 : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf('\r\n\r\n');
    if (buf === null || end < 0 || !buf.subarray(0, 5).every((b, i) => b === 'HTTP/'.charCodeAt(i)))
      return write.call(this, chunk, ...rest);
    const head = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1').split('\r\n');
    const kept = head.filter((line, i) => {
      const colon = line.indexOf(':');
      return i === 0 || colon <= 0 || !replaced.has(line.slice(0, colon).trim().toLowerCase());
    });
    for (const [name, value] of lines) kept.push(`${name}: ${value}`);
    const stamped = Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), buf.subarray(end)]);
    // The chunk went in as bytes now: drop a string's encoding, keep the callback.
    const callback = rest.find((r) => typeof r === 'function');
    return callback === undefined ? write.call(this, stamped) : write.call(this, stamped, callback);
  };
}
