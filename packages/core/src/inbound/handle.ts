import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import type { PeerIdentity } from './request-context.js';

/**
 * Telemetry for one inbound request, started by `InboundHandle.observe` before the
 * decision. It ends itself when the response finishes (or the connection closes).
 */
export interface InboundObservation {
  /** The decision for this request: a denial counts in the rate-limit or authorization metrics. */
  decided(decision: InboundDecision): void;
  /**
   * Run the application's handler inside the request's context, so a handler calling
   * `mesh.fetch` continues the trace and forwards `x-request-id` with no code.
   */
  run<T>(fn: () => T): T;
  /**
   * Optional: the allowed request was an upgrade, handed to the server's `upgrade`
   * listeners on `socket` (`head`: what node read past its head). The request is then
   * reported once that connection closes, as Envoy reports an upgraded stream.
   */
  upgraded?(socket: Duplex, head: Buffer): void;
}

/**
 * What a framework adapter needs from a mesh: one decision per request, and the
 * verified identity of the connection it arrived on. `createMesh` returns one as
 * `mesh.inbound`; adapters accept anything of this shape (tests pass their own).
 */
export interface InboundHandle {
  decide(req: InboundRequest): Promise<InboundDecision>;
  /**
   * Optional: the same decision, returned directly when no stage had to wait, so an
   * adapter can hand the request on in the same tick. Adapters fall back to `decide`.
   */
  decideNow?(req: InboundRequest): InboundDecision | Promise<InboundDecision>;
  /** The verified mTLS peer of a socket accepted by the mesh server; null for plaintext or foreign sockets. */
  peerOf(socket: Socket): PeerIdentity | null;
  /**
   * Optional telemetry (`createInboundObserver`): called by adapters when a request
   * arrives, before `decide`; starts the SERVER span and, when the response finishes,
   * records `istio_*` with reporter `destination` and the server access log line.
   * Absent: the adapters do no telemetry work.
   */
  observe?(req: IncomingMessage, res: ServerResponse, request: InboundRequest): InboundObservation;
  /**
   * Optional: an adapter calls it when it hands an allowed request to the application,
   * the sidecar's upstream; the mesh then adds `x-envoy-upstream-service-time` and
   * `server` to the response (`stampForwardedResponse`).
   */
  forwarded?(res: ServerResponse): void;
}

/**
 * Decide `req` and call `onDecision` with the result: in the same tick when the handle
 * can decide without waiting (`decideNow`), else when the decision settles. A throw or
 * rejection from the handle goes to `onError`; what the callbacks throw is theirs.
 * The adapters' one way of asking, so none of them pays a microtask per request.
 */
export function decideThen(
  handle: InboundHandle,
  req: InboundRequest,
  onDecision: (decision: InboundDecision) => void,
  onError: (error: unknown) => void,
): void {
  let d: InboundDecision | Promise<InboundDecision>;
  try {
    d = handle.decideNow === undefined ? handle.decide(req) : handle.decideNow(req);
  } catch (error) {
    onError(error);
    return;
  }
  if (d instanceof Promise) d.then(onDecision, onError);
  else onDecision(d);
}
