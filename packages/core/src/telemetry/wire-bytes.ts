import type { Readable } from 'node:stream';

/** Header values as meshlet passes them around: lower-case names, repeats as arrays. */
type Headers = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/**
 * The HTTP/1.1 size of a header block: `name: value\r\n` per value plus the blank line.
 * Istio's `istio_request_bytes` / `istio_response_bytes` are downstream wire bytes,
 * headers included (istio_stats.cc reads `request.total_size`), not body sizes.
 */
export function headerBlockBytes(headers: Headers): number {
  let n = 2;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') n += name.length + v.length + 4;
    else if (typeof v === 'number') n += name.length + String(v).length + 4;
    else for (const one of v) n += name.length + one.length + 4;
  }
  return n;
}

/**
 * The HTTP/1.1 size of a node `rawHeaders` list (names and values alternating, as
 * received): the same sum as `headerBlockBytes`, without walking an object.
 */
export function rawHeaderBlockBytes(raw: readonly string[]): number {
  let n = 2;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 4;
  return n;
}

/**
 * The HTTP/1.1 size of a request's head as received: its request line (`METHOD target
 * HTTP/1.1` and CRLF: 12 more bytes than the method and target) and its header block.
 */
export function requestHeadBytes(method: string, target: string, raw: readonly string[]): number {
  return method.length + target.length + 12 + rawHeaderBlockBytes(raw);
}

/** A running byte count, read when the stream is done. */
export interface ByteCount {
  bytes: number;
}

/**
 * Counts the bytes a readable receives as its producer pushes them, without reading,
 * buffering or changing the flow of the stream (no `data` listener, no extra Transform):
 * what is already buffered, plus every later `push`. Telemetry only; the stream's
 * behaviour is unchanged.
 */
export function countPushedBytes(stream: Readable): ByteCount {
  if (stream.readableEnded && stream.readableLength === 0) return { bytes: 0 };
  const count: ByteCount = { bytes: stream.readableObjectMode ? 0 : stream.readableLength };
  if (stream.readableEnded || stream.destroyed) return count;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the stream as `this`
  const push = stream.push;
  stream.push = function countingPush(this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (typeof chunk === 'string') count.bytes += Buffer.byteLength(chunk, encoding);
    else if (chunk instanceof Uint8Array) count.bytes += chunk.byteLength;
    return push.call(this, chunk, encoding);
  };
  return count;
}
