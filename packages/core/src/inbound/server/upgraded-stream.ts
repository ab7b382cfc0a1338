import type { Duplex } from 'node:stream';
import { countPushedBytes } from '../../telemetry/wire-bytes.js';
import { headerBlockFields } from '../sent-headers.js';

/** How a connection handed to the `upgrade` listeners went, once it closed. */
export interface UpgradedStream {
  /** The status the application answered with: 101 when it switched; 0 when it wrote no head. */
  readonly status: number;
  /** Its response head's fields, lower-case names, repeats as arrays ({} without a head). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The status line and header block's bytes (0 without a head). */
  readonly headBytes: number;
  /** Every byte the application wrote on the connection, its head included. */
  readonly sentBytes: number;
  /** The bytes the client sent after the request's head. */
  readonly receivedBytes: number;
  /** When the application wrote its first byte, by the watcher's clock; null when it wrote none. */
  readonly firstSentAt: number | null;
  /**
   * Which side closed first: `downstream` when the client ended or reset the connection
   * before the application closed it, `application` when the application ended or
   * destroyed it while the client still had it open.
   */
  readonly closedBy: 'downstream' | 'application';
}

/** What is kept of the application's first bytes while looking for the end of its head. */
const MAX_HEAD = 64 * 1024;

type Chunk = string | Uint8Array;

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

function latin1(chunk: Chunk, encoding: unknown): string {
  const buf =
    typeof chunk === 'string'
      ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return buf.toString('latin1');
}

/**
 * Watches a connection node handed to the `upgrade` listeners, from the moment it did, and
 * calls `done` once when it closes: what the application answered (its status line and
 * header block, parsed from its first bytes), how many bytes went each way, and which side
 * closed first. `head` is what node read past the request's head (the listeners' `head`).
 *
 * Counts without changing the connection: the application's writes and `end`/`destroy`
 * calls are wrapped on this socket, and what the client sends is counted as it is pushed
 * (`countPushedBytes`), with no `data` or `error` listener (which would start the flow, or
 * swallow an error the application has no listener for).
 */
export function watchUpgradedStream(
  socket: Duplex,
  head: Buffer,
  now: () => number,
  done: (stream: UpgradedStream) => void,
): void {
  // The client went away while the upgrade was decided: nothing went either way.
  if ((socket as { closed?: boolean }).closed === true) {
    queueMicrotask(() =>
      done({
        status: 0,
        headers: {},
        headBytes: 0,
        sentBytes: 0,
        receivedBytes: head.length,
        firstSentAt: null,
        closedBy: 'downstream',
      }),
    );
    return;
  }
  const received = countPushedBytes(socket);
  let sent = 0;
  let firstSentAt: number | null = null;
  let headText = '';
  let headBytes = -1;
  let closedBy: UpgradedStream['closedBy'] | null = null;

  const wrote = (chunk: unknown, encoding: unknown): void => {
    const n = byteLength(chunk, encoding);
    if (n === 0) return;
    firstSentAt ??= now();
    sent += n;
    if (headBytes >= 0 || headText.length >= MAX_HEAD) return;
    headText += latin1(chunk as Chunk, encoding);
    const end = headText.indexOf('\r\n\r\n');
    if (end >= 0) {
      headBytes = end + 4;
      headText = headText.slice(0, headBytes);
    }
  };
  // The first close decides: an `end` or `destroy` while the client's side is still open is
  // the application's (node's own `end` after the client's FIN, and its `destroy(err)` on a
  // reset, come once the client closed).
  const closing = (byClient: boolean): void => {
    closedBy ??= byClient || socket.readableEnded ? 'downstream' : 'application';
  };

  type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
  type End = (...args: unknown[]) => Duplex;
  type Destroy = (error?: Error) => Duplex;
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
  socket.once('close', () => {
    const status = headBytes >= 0 ? /^HTTP\/\d\.\d (\d{3})/.exec(headText) : null;
    done({
      status: status === null ? 0 : Number(status[1]),
      headers: headBytes >= 0 ? headerBlockFields(headText) : {},
      headBytes: Math.max(0, headBytes),
      sentBytes: sent,
      receivedBytes: head.length + received.bytes,
      firstSentAt,
      // Closed with no `end` or `destroy` of the application's: not its doing.
      closedBy: closedBy ?? 'downstream',
    });
  });
}
