import type { Socket } from 'node:net';

/** The first byte of a TLS connection: a handshake record (RFC 8446 §5.1, ContentType 22). */
export const TLS_HANDSHAKE = 0x16;

/** What the first bytes of a connection said. */
export interface FirstBytes {
  /** The first byte; null when the socket ended or failed before sending anything. */
  readonly first: number | null;
  /**
   * The first record is a TLS ClientHello, as Envoy's tls_inspector would find (only for
   * `first` 0x16; false for a handshake record that holds something else).
   */
  readonly clientHello: boolean;
  /** That ClientHello's ALPN extension offers `http/1.1`. */
  readonly offersHttp11: boolean;
}

const NOTHING: FirstBytes = Object.freeze({ first: null, clientHello: false, offersHttp11: false });
const RECORD_HEADER = 5;

/**
 * Wait for the first bytes a client sends without consuming them: the bytes read are put
 * back with `unshift`, so whoever takes the socket next (the HTTP parser, or TLS, which
 * drains a wrapped socket's buffer first) sees the stream from its start. Anything but a TLS
 * handshake record is decided on its first byte; a TLS one is read up to the end of its
 * first record, the ClientHello, as Envoy's tls_inspector reads the whole hello before the
 * filter chain (and its ALPN) is chosen. A stalled hello waits: the caller's handshake
 * timeout bounds it.
 */
export function sniffFirstBytes(socket: Socket, done: (result: FirstBytes) => void): void {
  let finished = false;
  let buffered: Buffer | null = null;
  const finish = (result: FirstBytes) => {
    if (finished) return;
    finished = true;
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    if (buffered !== null) socket.unshift(buffered);
    done(result);
  };
  const onEnd = () =>
    finish(
      buffered === null
        ? NOTHING
        : { first: buffered[0] ?? null, clientHello: buffered[0] === TLS_HANDSHAKE, offersHttp11: false },
    );
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      if (chunk.length === 0) continue;
      buffered = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
    }
    if (buffered === null) return;
    const first = buffered[0] as number;
    if (first !== TLS_HANDSHAKE) {
      finish({ first, clientHello: false, offersHttp11: false });
      return;
    }
    if (buffered.length < RECORD_HEADER) return;
    const end = RECORD_HEADER + buffered.readUInt16BE(3);
    if (buffered.length < end) return;
    finish({ first, ...readHello(buffered.subarray(RECORD_HEADER, end)) });
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}

const HTTP11 = Buffer.from('http/1.1');
const NOT_A_HELLO = Object.freeze({ clientHello: false, offersHttp11: false });
const HELLO = Object.freeze({ clientHello: true, offersHttp11: false });
const HELLO_HTTP11 = Object.freeze({ clientHello: true, offersHttp11: true });

/**
 * Read the ClientHello in `body`, one handshake record's body (RFC 8446 §4.1.2): whether it
 * is one, and whether its ALPN extension (RFC 7301) offers `http/1.1`. A hello longer than
 * its record (fragmented over several) counts as one, its ALPN unseen.
 */
function readHello(body: Buffer): { readonly clientHello: boolean; readonly offersHttp11: boolean } {
  // msg_type client_hello(1), uint24 length, legacy_version(2), random(32).
  if (body.length < 4 || body[0] !== 0x01) return NOT_A_HELLO;
  const end = 4 + body.readUIntBE(1, 3);
  if (end > body.length) return HELLO;
  let at = 38;
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (at + lengthBytes > end) return false;
    at += lengthBytes + (lengthBytes === 1 ? (body[at] as number) : body.readUInt16BE(at));
    return at <= end;
  };
  // session id, cipher suites, compression methods; extensions may be absent.
  if (end < 38 || !skip(1) || !skip(2) || !skip(1)) return NOT_A_HELLO;
  if (at === end) return HELLO;
  if (at + 2 > end) return NOT_A_HELLO;
  const extensionsEnd = at + 2 + body.readUInt16BE(at);
  if (extensionsEnd > end) return NOT_A_HELLO;
  let offersHttp11 = false;
  for (at += 2; at < extensionsEnd;) {
    if (at + 4 > extensionsEnd) return NOT_A_HELLO;
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    at += 4;
    if (at + length > extensionsEnd) return NOT_A_HELLO;
    if (type === 16 && length >= 2) {
      // application_layer_protocol_negotiation: uint16 list length, uint8-prefixed names.
      const listEnd = Math.min(at + length, at + 2 + body.readUInt16BE(at));
      for (let p = at + 2; p < listEnd; p += 1 + (body[p] as number)) {
        const n = body[p] as number;
        if (n === HTTP11.length && p + 1 + n <= listEnd && body.compare(HTTP11, 0, n, p + 1, p + 1 + n) === 0)
          offersHttp11 = true;
      }
    }
    at += length;
  }
  return offersHttp11 ? HELLO_HTTP11 : HELLO;
}
