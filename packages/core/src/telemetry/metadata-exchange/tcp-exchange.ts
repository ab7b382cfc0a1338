import type { Socket } from 'node:net';
import {
  metadataFromStruct,
  PEER_METADATA,
  PEER_METADATA_ID,
  type LocalPeerHeaders,
  type PeerMetadata,
} from './peer-metadata.js';
import { decodeAny, decodeStruct, encodeAny, encodeStruct, type StructValue } from './struct-wire.js';

/**
 * Istio's TCP metadata exchange (the istio.metadata_exchange network filter, istio/proxy
 * metadata_exchange.cc; now Envoy contrib/istio/filters/network/metadata_exchange). Over
 * Istio mTLS a client offers ALPN `istio-peer-exchange` before `istio` (pilot
 * util.ALPNInMeshWithMxc; off with PILOT_DISABLE_MX_ALPN) and a sidecar's inbound TCP
 * chain selects it (listener.go mtlsTCPWithMxcALPNs). When it is negotiated, each side
 * writes one frame before its own bytes: a header of two big-endian uint32, the magic
 * 0x3D230467 and the length of what follows (metadata_exchange_initial_header.h), then a
 * `google.protobuf.Any` of a Struct holding `x-envoy-peer-metadata` (the workload's
 * metadata, the Struct HTTP's exchange sends base64) and `x-envoy-peer-metadata-id` (the
 * node id). Each side reads the peer's frame off the front of what it receives, and the
 * stats filter labels `istio_tcp_*` with the peer's workload, app, version and canonical
 * service.
 */
export const MX_ALPN = 'istio-peer-exchange';

const MAGIC = 0x3d230467;
const HEADER = 8;
const STRUCT_TYPE_URL = 'type.googleapis.com/google.protobuf.Struct';
/**
 * A frame announcing more than this is not waited for (meshlet's bound; Envoy has none):
 * the bytes go to the application as they are and the peer stays unknown. A real one is
 * under 2 KiB.
 */
const MAX_FRAME = 64 * 1024;

/** This workload's frame, from the same Struct and node id as its HTTP exchange headers. */
export function tcpExchangeFrame(local: LocalPeerHeaders): Buffer {
  const metadata = decodeStruct(Buffer.from(local.value, 'base64'));
  const any = encodeAny({
    typeUrl: STRUCT_TYPE_URL,
    value: encodeStruct({ [PEER_METADATA]: metadata, [PEER_METADATA_ID]: local.id }),
  });
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(any.length, 4);
  return Buffer.concat([header, any]);
}

function isFields(v: StructValue | undefined): v is Readonly<Record<string, StructValue>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The peer a frame's Any describes; null when it is not a Struct with `x-envoy-peer-metadata`. */
function peerOfAny(bytes: Buffer): PeerMetadata | null {
  try {
    const any = decodeAny(bytes);
    if (any.typeUrl !== STRUCT_TYPE_URL) return null;
    const metadata = decodeStruct(any.value)[PEER_METADATA];
    return isFields(metadata) ? metadataFromStruct(metadata) : null;
  } catch {
    return null;
  }
}

/**
 * The exchange's own bytes on a connection: not the application's, so not in
 * `istio_tcp_*_bytes_total` (the filter drains the peer's frame before tcp_proxy counts
 * what it carries).
 */
export interface ExchangeBytes {
  sent: number;
  received: number;
}

/** What one connection's exchange learnt: the peer (null until its frame came, or without one) and the bytes. */
export interface TcpExchangeState {
  readonly peer: () => PeerMetadata | null;
  readonly bytes: ExchangeBytes;
}

/** A connection's exchange bytes before (or without) an exchange. */
export function noExchangeBytes(): ExchangeBytes {
  return { sent: 0, received: 0 };
}

/**
 * Run the exchange on a connection that negotiated `istio-peer-exchange`: write `frame`
 * now (ahead of anything the application writes), and take the peer's frame off the front
 * of what arrives before the application reads it. `onPeer` hears the peer's metadata, or
 * null, as the filter decides: bytes that do not start with the magic pass through
 * untouched; a frame whose Any does not parse loses only its header; a peer that ends
 * before a whole frame leaves what it sent to the application.
 */
export function exchangeTcpMetadata(
  socket: Socket,
  frame: Buffer,
  onPeer: (peer: PeerMetadata | null) => void,
  bytes: ExchangeBytes = noExchangeBytes(),
): ExchangeBytes {
  socket.write(frame);
  bytes.sent = frame.length;
  readPeerFrame(socket, onPeer, bytes);
  return bytes;
}

/**
 * Reads the frame by standing in for the socket's `push`, which Node's stream calls with
 * each chunk it reads (and null at the end): chunks are held until the frame is whole, then
 * the socket's own `push` is back and gets whatever followed the frame.
 */
function readPeerFrame(
  socket: Socket,
  onPeer: (peer: PeerMetadata | null) => void,
  bytes: ExchangeBytes,
): void {
  let held: Buffer = Buffer.alloc(0);
  const finish = (pass: Buffer, peer: PeerMetadata | null): boolean => {
    Reflect.deleteProperty(socket, 'push');
    bytes.received = held.length - pass.length;
    onPeer(peer);
    return pass.length > 0 ? socket.push(pass) : true;
  };
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null || chunk === undefined) {
      finish(held, null);
      return socket.push(chunk);
    }
    const b = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Buffer);
    held = held.length === 0 ? b : Buffer.concat([held, b]);
    if (held.length < HEADER) return true;
    if (held.readUInt32BE(0) !== MAGIC) return finish(held, null);
    const size = held.readUInt32BE(4);
    if (size > MAX_FRAME) return finish(held, null);
    if (held.length < HEADER + size) return true;
    const peer = peerOfAny(held.subarray(HEADER, HEADER + size));
    return finish(held.subarray(peer === null ? HEADER : HEADER + size), peer);
  };
}
