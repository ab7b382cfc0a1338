import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { PeerIdentity } from '../request-context.js';

/** What the mesh server learned about one accepted TLS connection. */
export interface ConnectionPeer {
  readonly peer: PeerIdentity | null;
  /**
   * This mTLS peer's `X-Forwarded-Client-Cert` element (`By`, `Hash`, then the details of
   * the plan in force at the handshake), made once per connection; null without a
   * verified client certificate. The mode that uses it is read per request.
   */
  readonly xfccElement: string | null;
}

// Keyed by the socket the HTTP parser reads (the TLSSocket for TLS): entries go when it does.
const connections = new WeakMap<Socket, ConnectionPeer>();

/** Record what a verified handshake established (the mesh server only). */
export function recordConnectionPeer(socket: Socket, info: ConnectionPeer): void {
  connections.set(socket, Object.freeze(info));
}

export function connectionPeerOf(socket: Socket): ConnectionPeer | null {
  return connections.get(socket) ?? null;
}

/**
 * The verified mTLS identity of a connection accepted by a mesh server, or null for
 * plaintext, TLS without a client certificate, or a socket the mesh server did not accept.
 * Never read from `X-Forwarded-Client-Cert`.
 */
export function peerFromSocket(socket: Socket): PeerIdentity | null {
  return connections.get(socket)?.peer ?? null;
}

/** `peerFromSocket(req.socket)`: the identity behind an HTTP request. */
export function getPeer(req: IncomingMessage): PeerIdentity | null {
  return peerFromSocket(req.socket);
}
