import type { Socket } from 'node:net';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import type { PeerIdentity } from './request-context.js';

/**
 * What a framework adapter needs from a mesh: one decision per request, and the
 * verified identity of the connection it arrived on. `createMesh` returns one as
 * `mesh.inbound`; adapters accept anything of this shape (tests pass their own).
 */
export interface InboundHandle {
  decide(req: InboundRequest): Promise<InboundDecision>;
  /** The verified mTLS peer of a socket accepted by the mesh server; null for plaintext or foreign sockets. */
  peerOf(socket: Socket): PeerIdentity | null;
}
