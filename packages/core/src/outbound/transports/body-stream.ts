import { PassThrough, type Readable } from 'node:stream';
import type { TransportError } from '../transport.js';

/**
 * Hands `source` to the pipeline as a plain Readable whose errors are already
 * `TransportError`s (a reset or our abort mid-body), and destroys `source` when the
 * consumer destroys the result (a retry drains or drops a body): no socket is left
 * half-read.
 */
export function mappedBody(source: Readable, mapError: (err: unknown) => TransportError): Readable {
  const out = new PassThrough();
  let done = false;
  source.on('error', (err) => {
    if (done) return;
    done = true;
    out.destroy(mapError(err));
  });
  out.on('close', () => {
    done = true;
    if (!source.destroyed && !source.readableEnded) source.destroy();
  });
  source.pipe(out);
  return out;
}
