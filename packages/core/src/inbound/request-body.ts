import type { Readable } from 'node:stream';

/** A request body stream: node's IncomingMessage, `complete` once the whole message has arrived. */
export interface BodySource extends Readable {
  readonly complete: boolean;
}

export interface BodyPrefix {
  /** At most the bytes asked for. */
  readonly bytes: Buffer;
  /** The body goes on beyond `bytes`. */
  readonly truncated: boolean;
}

/**
 * Whether an HTTP/1.1 request has a body: one with neither Content-Length nor
 * Transfer-Encoding has none (RFC 9112 §6.3), nor has one with `Content-Length: 0`.
 */
export function declaresBody(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Raised when the client goes away before the body needed for a check arrived. */
export class RequestBodyError extends Error {
  readonly code = 'REQUEST_BODY_ABORTED';
}

function toBuffer(chunk: unknown, encoding?: BufferEncoding): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  return Buffer.from(chunk as Uint8Array);
}

/** Takes what the stream already holds; `read()` on a stream that has not ended never ends it. */
function drain(src: BodySource, maxBytes: number, into: Buffer[]): number {
  let size = 0;
  while (size <= maxBytes && src.readableLength > 0) {
    const chunk = src.read() as unknown;
    if (chunk === null) break;
    const b = toBuffer(chunk);
    into.push(b);
    size += b.length;
  }
  return size;
}

/**
 * Reads the first `maxBytes` of a request body, as Envoy's ext_authz filter buffers it
 * for `includeRequestBodyInCheck` (at most one chunk past the limit, to know whether more
 * follows), and leaves the stream as if nothing had read it, so the application's body
 * parser reads the whole body.
 *
 * A stream must not emit 'end' before the application listens, and node emits it on its
 * own once a paused stream reaches its end with nothing buffered. So data still to come
 * is taken where node's HTTP parser hands it over (`push`, replaced on this one stream
 * while reading, as the byte counter in telemetry/wire-bytes.ts does), and handed back
 * the same way afterwards, the end included; data already buffered is read and put back
 * at the front. Rejects with RequestBodyError if the client aborts first; a client that
 * stalls is bounded by the server's own `requestTimeout`.
 */
export function readBodyPrefix(src: BodySource, maxBytes: number): Promise<BodyPrefix> {
  const buffered: Buffer[] = [];
  const bufferedSize = drain(src, maxBytes, buffered);
  const prefix = (chunks: Buffer[], size: number): BodyPrefix => {
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    return { bytes: size > maxBytes ? all.subarray(0, maxBytes) : all, truncated: size > maxBytes };
  };
  if (bufferedSize > maxBytes || src.complete) {
    // Everything needed is here; unshift before node's scheduled 'end' finds the buffer empty.
    if (bufferedSize > 0) src.unshift(Buffer.concat(buffered, bufferedSize));
    return Promise.resolve(prefix(buffered, bufferedSize));
  }
  return new Promise<BodyPrefix>((resolve, reject) => {
    const ownPush = Object.prototype.hasOwnProperty.call(src, 'push');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- restored below, called with `src` as `this`
    const push = src.push;
    const pushed: Buffer[] = [];
    let pushedSize = 0;
    const restore = (): void => {
      if (ownPush) src.push = push;
      else delete (src as { push?: unknown }).push;
      src.removeListener('error', onError);
      src.removeListener('close', onClose);
    };
    /** Hands everything back in order; returns what the real `push` says about backpressure. */
    const finish = (ended: boolean): boolean => {
      restore();
      if (bufferedSize > 0) src.unshift(Buffer.concat(buffered, bufferedSize));
      let more = true;
      if (pushedSize > 0) more = push.call(src, Buffer.concat(pushed, pushedSize));
      if (ended) more = push.call(src, null);
      resolve(prefix([...buffered, ...pushed], bufferedSize + pushedSize));
      return more;
    };
    src.push = function capture(chunk: unknown, encoding?: BufferEncoding): boolean {
      if (chunk === null) return finish(true);
      const b = toBuffer(chunk, encoding);
      pushed.push(b);
      pushedSize += b.length;
      return bufferedSize + pushedSize > maxBytes ? finish(false) : true;
    };
    const fail = (message: string): void => {
      restore();
      reject(new RequestBodyError(message));
    };
    const onError = (e: Error): void => fail(`request body failed: ${e.message}`);
    const onClose = (): void => fail('the client closed the request before its body arrived');
    src.on('error', onError);
    src.on('close', onClose);
    // The socket may be paused for backpressure from before the check: ask for more.
    src.read(0);
  });
}
