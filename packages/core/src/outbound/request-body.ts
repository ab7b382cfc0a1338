import { Readable } from 'node:stream';
import { MeshletError } from '../errors/meshlet-error.js';

/** What `init.body` may be. */
export type RequestBodyInput = string | Buffer | Uint8Array | Readable;

/**
 * Envoy buffers a request body for retries only up to the connection buffer
 * limit (1 MiB by default); a larger body is sent once (spec/traffic.md §3).
 */
export const RETRY_BUFFER_LIMIT = 1024 * 1024;

/** A request body prepared once for every try. */
export interface RequestBody {
  readonly data: Buffer | Readable | null;
  /** Why the body stops retries (`body-not-replayable`), or null when tries may resend it. */
  readonly notReplayable: string | null;
}

const EMPTY: RequestBody = Object.freeze({ data: null, notReplayable: null });

/**
 * Strings and bytes are replayable Buffers; a stream is sent once, so retries
 * (and mirrors, which need a copy) are off for it.
 * @throws MeshletError `MESHLET_ERR_OUTBOUND_BODY` for any other type
 */
export function prepareBody(body: RequestBodyInput | null | undefined): RequestBody {
  if (body === undefined || body === null) return EMPTY;
  if (typeof body === 'string')
    return { data: Buffer.from(body), notReplayable: sizeCheck(Buffer.byteLength(body)) };
  if (Buffer.isBuffer(body)) return { data: body, notReplayable: sizeCheck(body.length) };
  if (body instanceof Uint8Array) {
    return {
      data: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      notReplayable: sizeCheck(body.byteLength),
    };
  }
  if (body instanceof Readable) return { data: body, notReplayable: 'body-not-replayable' };
  throw new MeshletError(
    'MESHLET_ERR_OUTBOUND_BODY',
    'init.body must be a string, Buffer, Uint8Array or Readable stream',
    { type: typeof body },
  );
}

function sizeCheck(bytes: number): string | null {
  return bytes > RETRY_BUFFER_LIMIT ? 'body-exceeds-retry-buffer' : null;
}

/** The stream body failed (the caller's stream errored): a typed error, not an HTTP status. */
export function bodyStreamError(body: Readable, cause: unknown): MeshletError | null {
  if (body.errored === null && !body.readableAborted) return null;
  return new MeshletError(
    'MESHLET_ERR_OUTBOUND_BODY',
    'the request body stream failed',
    {},
    {
      cause: body.errored ?? cause,
    },
  );
}
