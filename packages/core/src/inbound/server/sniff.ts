import type { Socket } from 'node:net';

/** The first byte of a TLS connection: a handshake record (RFC 8446 §5.1, ContentType 22). */
export const TLS_HANDSHAKE = 0x16;

/**
 * Wait for the first byte a client sends without consuming it: the bytes read are put
 * back with `unshift`, so whoever takes the socket next (the HTTP parser, or TLS, which
 * drains a wrapped socket's buffer first) sees the stream from its start. Calls `done`
 * with null when the socket ends or fails before sending anything.
 */
export function sniffFirstByte(socket: Socket, done: (first: number | null) => void): void {
  let finished = false;
  const finish = (first: number | null) => {
    if (finished) return;
    finished = true;
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    done(first);
  };
  const onEnd = () => finish(null);
  const onReadable = () => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null || chunk.length === 0) return;
    socket.unshift(chunk);
    finish(chunk[0] ?? null);
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}
