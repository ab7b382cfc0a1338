import type { Duplex } from 'node:stream';
import { watchConnection } from '../../telemetry/connection-watch.js';
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
 * closed first (connection-watch.ts, the application being the local side). `head` is what
 * node read past the request's head (the listeners' `head`).
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
  let headText = '';
  let headBytes = -1;
  const onWrite = (chunk: unknown, encoding: unknown): void => {
    if (headBytes >= 0 || headText.length >= MAX_HEAD) return;
    headText += latin1(chunk as Chunk, encoding);
    const end = headText.indexOf('\r\n\r\n');
    if (end >= 0) {
      headBytes = end + 4;
      headText = headText.slice(0, headBytes);
    }
  };
  watchConnection(
    socket,
    now,
    (c) => {
      const status = headBytes >= 0 ? /^HTTP\/\d\.\d (\d{3})/.exec(headText) : null;
      done({
        status: status === null ? 0 : Number(status[1]),
        headers: headBytes >= 0 ? headerBlockFields(headText) : {},
        headBytes: Math.max(0, headBytes),
        sentBytes: c.sentBytes,
        receivedBytes: head.length + c.receivedBytes,
        firstSentAt: c.firstSentAt,
        closedBy: c.closedBy === 'remote' ? 'downstream' : 'application',
      });
    },
    onWrite,
  );
}
