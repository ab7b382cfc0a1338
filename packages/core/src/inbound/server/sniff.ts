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
  /**
   * The protocols the ClientHello's ALPN extension offers, in its order ([] without the
   * extension); null when the whole hello was not read (the connection ended first, or it
   * is larger than {@link MAX_CLIENT_HELLO}).
   */
  readonly alpn: readonly string[] | null;
  /**
   * The host name of the ClientHello's server_name extension (RFC 6066 §3), lower-cased, as
   * Envoy's tls_inspector reports it for filter chain matching; null without one, or when
   * the whole hello was not read.
   */
  readonly serverName: string | null;
}

const NOTHING: FirstBytes = Object.freeze({ first: null, clientHello: false, alpn: null, serverName: null });
const RECORD_HEADER = 5;
/**
 * The most of the stream read for the hello: Envoy tls_inspector's largest
 * max_client_hello_size (tls_inspector.h TLS_MAX_CLIENT_HELLO, 64 KiB).
 */
export const MAX_CLIENT_HELLO = 65_536;

/**
 * Wait for the first bytes a client sends without consuming them: the bytes read are put
 * back with `unshift`, so whoever takes the socket next (the HTTP parser, or TLS, which
 * drains a wrapped socket's buffer first) sees the stream from its start. Anything but a TLS
 * handshake record is decided on its first byte; a TLS one is read up to the end of the
 * ClientHello, across as many handshake records as it spans, as Envoy's tls_inspector reads
 * the whole hello before the filter chain (and its ALPN) is chosen. A stalled hello waits:
 * the caller's handshake timeout bounds it. The returned function stops waiting without
 * calling `done` (the protocol detection timeout), putting back whatever was read.
 */
export function sniffFirstBytes(socket: Socket, done: (result: FirstBytes) => void): () => void {
  let finished = false;
  let buffered: Buffer | null = null;
  const stop = (): boolean => {
    if (finished) return false;
    finished = true;
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    if (buffered !== null) socket.unshift(buffered);
    return true;
  };
  const finish = (result: FirstBytes) => {
    if (stop()) done(result);
  };
  const onEnd = () =>
    finish(
      buffered === null
        ? NOTHING
        : {
            first: buffered[0] ?? null,
            clientHello: buffered[0] === TLS_HANDSHAKE,
            alpn: null,
            serverName: null,
          },
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
      finish({ first, clientHello: false, alpn: null, serverName: null });
      return;
    }
    const hello = helloBytes(buffered);
    if (hello !== WAIT) finish({ first, ...(hello === null ? NOT_A_HELLO : readHello(hello)) });
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  return () => {
    stop();
  };
}

const WAIT = Symbol('wait');
const NOT_A_HELLO = Object.freeze({ clientHello: false, alpn: null, serverName: null });
const UNREADABLE = Buffer.alloc(0);

/**
 * The ClientHello message (type, length, body) carried by the handshake records at the start
 * of `data`; WAIT until all of it arrived; null when the first record holds no ClientHello;
 * UNREADABLE for a hello whose records run past MAX_CLIENT_HELLO bytes, or one broken off by
 * another record type.
 */
function helloBytes(data: Buffer): Buffer | typeof WAIT | null {
  const parts: Buffer[] = [];
  let have = 0;
  for (let at = 0; ;) {
    if (data.length < at + RECORD_HEADER) return WAIT;
    if (data[at] !== TLS_HANDSHAKE) return UNREADABLE;
    const end = at + RECORD_HEADER + data.readUInt16BE(at + 3);
    // Past what the inspector reads of the stream, record headers included.
    if (end > MAX_CLIENT_HELLO) return UNREADABLE;
    if (data.length < end) return WAIT;
    const body = data.subarray(at + RECORD_HEADER, end);
    // msg_type client_hello(1) opens the first record (RFC 8446 §4.1.2).
    if (at === 0 && (body.length === 0 || body[0] !== 0x01)) return null;
    parts.push(body);
    have += body.length;
    at = end;
    if (have < 4) continue;
    const hello = parts.length === 1 ? body : Buffer.concat(parts);
    const need = 4 + hello.readUIntBE(1, 3);
    if (need > MAX_CLIENT_HELLO) return UNREADABLE;
    if (have >= need) return hello.subarray(0, need);
  }
}

const HELLO_UNREAD = Object.freeze({ clientHello: true, alpn: null, serverName: null });
const NO_ALPN: readonly string[] = Object.freeze([]);

/**
 * Read the ClientHello `hello` (handshake type, uint24 length, body; RFC 8446 §4.1.2): whether
 * it is one, and the protocols of its ALPN extension (RFC 7301).
 */
function readHello(hello: Buffer): {
  readonly clientHello: boolean;
  readonly alpn: readonly string[] | null;
  readonly serverName: string | null;
} {
  if (hello === UNREADABLE) return HELLO_UNREAD;
  const end = hello.length;
  // legacy_version(2), random(32) after the 4-byte header.
  let at = 38;
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (at + lengthBytes > end) return false;
    at += lengthBytes + (lengthBytes === 1 ? (hello[at] as number) : hello.readUInt16BE(at));
    return at <= end;
  };
  // session id, cipher suites, compression methods; extensions may be absent.
  if (end < 38 || !skip(1) || !skip(2) || !skip(1)) return NOT_A_HELLO;
  if (at === end) return { clientHello: true, alpn: NO_ALPN, serverName: null };
  if (at + 2 > end) return NOT_A_HELLO;
  const extensionsEnd = at + 2 + hello.readUInt16BE(at);
  if (extensionsEnd > end) return NOT_A_HELLO;
  let alpn: readonly string[] = NO_ALPN;
  let serverName: string | null = null;
  for (at += 2; at < extensionsEnd;) {
    if (at + 4 > extensionsEnd) return NOT_A_HELLO;
    const type = hello.readUInt16BE(at);
    const length = hello.readUInt16BE(at + 2);
    at += 4;
    if (at + length > extensionsEnd) return NOT_A_HELLO;
    if (type === 16 && length >= 2) {
      // application_layer_protocol_negotiation: uint16 list length, uint8-prefixed names.
      const names: string[] = [];
      const listEnd = Math.min(at + length, at + 2 + hello.readUInt16BE(at));
      for (let p = at + 2; p < listEnd; p += 1 + (hello[p] as number)) {
        const n = hello[p] as number;
        if (p + 1 + n <= listEnd) names.push(hello.toString('latin1', p + 1, p + 1 + n));
      }
      alpn = names;
    } else if (type === 0 && length >= 5) {
      // server_name: uint16 list length, then name_type(1) and a uint16-prefixed name; the
      // first host_name(0) entry is the SNI.
      const listEnd = Math.min(at + length, at + 2 + hello.readUInt16BE(at));
      for (let p = at + 2; p + 3 <= listEnd;) {
        const n = hello.readUInt16BE(p + 1);
        if (p + 3 + n > listEnd) break;
        if (hello[p] === 0) {
          serverName = hello.toString('latin1', p + 3, p + 3 + n).toLowerCase();
          break;
        }
        p += 3 + n;
      }
    }
    at += length;
  }
  return { clientHello: true, alpn, serverName };
}
