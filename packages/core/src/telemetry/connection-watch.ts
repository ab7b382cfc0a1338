import type { Duplex } from 'node:stream';
import { countPushedBytes } from './wire-bytes.js';

/** What went over a watched connection, once it closed. */
export interface WatchedConnection {
  /** The bytes written on it from this side. */
  readonly sentBytes: number;
  /** The bytes the other side sent, as they were pushed to this one. */
  readonly receivedBytes: number;
  /** When this side wrote its first byte, by the watcher's clock; null when it wrote none. */
  readonly firstSentAt: number | null;
  /**
   * Which side closed first: `remote` when the peer ended or reset the connection before
   * this side closed it, `local` when this side ended or destroyed it while the peer still
   * had it open.
   */
  readonly closedBy: 'remote' | 'local';
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
type End = (...args: unknown[]) => Duplex;
type Destroy = (error?: Error) => Duplex;

/** A chunk's byte length as `write` takes it (string with its encoding, or bytes). */
export function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/**
 * Watches an open connection until it closes, then calls `done` once with the bytes each way
 * and which side closed first; `onWrite` sees every chunk written from this side.
 *
 * Counts without changing the connection: `write`, `end` and `destroy` are wrapped on this
 * socket, and what the peer sends is counted as it is pushed (`countPushedBytes`), with no
 * `data` or `error` listener (which would start the flow, or swallow an error the owner has
 * no listener for). An `end` or `destroy` after the peer's end (node's own, after a FIN)
 * or with an error (node's, on a reset) is the peer's doing.
 */
export function watchConnection(
  socket: Duplex,
  now: () => number,
  done: (c: WatchedConnection) => void,
  onWrite?: (chunk: unknown, encoding: unknown) => void,
): void {
  const received = countPushedBytes(socket);
  let sent = 0;
  let firstSentAt: number | null = null;
  let closedBy: WatchedConnection['closedBy'] | null = null;
  const wrote = (chunk: unknown, encoding: unknown): void => {
    const n = chunkBytes(chunk, encoding);
    if (n === 0) return;
    firstSentAt ??= now();
    sent += n;
    onWrite?.(chunk, encoding);
  };
  const closing = (byPeer: boolean): void => {
    closedBy ??= byPeer || socket.readableEnded ? 'remote' : 'local';
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the socket as `this`
  const write = socket.write as Write;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- as above
  const end = socket.end as End;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- as above
  const destroy: Destroy = socket.destroy;
  (socket as { write: Write }).write = function countedWrite(this: Duplex, chunk, ...rest) {
    wrote(chunk, rest[0]);
    return write.call(this, chunk, ...rest);
  };
  (socket as { end: End }).end = function closingEnd(this: Duplex, ...args) {
    closing(false);
    if (typeof args[0] !== 'function' && args[0] !== undefined && args[0] !== null) wrote(args[0], args[1]);
    return end.apply(this, args);
  };
  (socket as { destroy: Destroy }).destroy = function closingDestroy(this: Duplex, error?: Error) {
    closing(error !== undefined && error !== null);
    return destroy.call(this, error);
  };
  socket.once('close', () =>
    done({
      sentBytes: sent,
      receivedBytes: received.bytes,
      firstSentAt,
      // Closed with no `end` or `destroy` of this side's: not its doing.
      closedBy: closedBy ?? 'remote',
    }),
  );
}
