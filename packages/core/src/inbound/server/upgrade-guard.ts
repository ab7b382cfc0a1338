import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InboundDecision } from '../engine-types.js';
import type { InboundHandle } from '../handle.js';
import { decideNodeRequest } from '../node-decide.js';
import { writeDenial } from '../node-deny.js';
import { applyRequestHeaderEdits } from '../node-headers.js';
import { responseOperationOf } from '../forwarded-response.js';
import { stampUpgradeResponse } from './upgrade-response-head.js';

/** node's `upgrade` listener. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Decides an upgrade request, then hands it to the listeners (`proceed`) or answers it. */
export type UpgradeGuard = (req: IncomingMessage, socket: Duplex, head: Buffer, proceed: () => void) => void;

// The decision an upgrade request was handed on with, for an adapter that sees it again
// (Fastify's router, which @fastify/websocket runs the upgrade through): decided once. A
// registered symbol on the request, so two copies of the package still agree.
const kDecided = Symbol.for('meshlet.upgradeDecision');

interface DecidedUpgrade extends IncomingMessage {
  [kDecided]?: InboundDecision | undefined;
}

/** The decision the mesh server's upgrade guard made for `req`, taken once. */
export function takeUpgradeDecision(req: IncomingMessage): InboundDecision | undefined {
  const r = req as DecidedUpgrade;
  const d = r[kDecided];
  if (d !== undefined) r[kDecided] = undefined;
  return d;
}

/** What the sidecar adds to the head the application answers an allowed upgrade with. */
export interface UpgradeGuardOptions {
  /** The `server` header meshConfig asks forwarded responses for now, null for none. */
  readonly server: () => string | null;
}

/**
 * What a mesh server puts in front of its `upgrade` listeners (a WebSocket server's): the
 * request is decided as any other, since Envoy's filters see an upgrade request like any
 * (Istio's connection managers allow `websocket` upgrades, the filters run before the
 * router takes the upgrade). A denied one gets the decision's reply on its socket, which
 * then closes, and the listeners never hear of it; an allowed one reaches them with the
 * decision's header edits, the normalized path authorization checked as `req.url`, and
 * `req.meshlet` set, inside the request's trace context. With the handle's telemetry
 * (`observe`) a refusal is reported as any, and an allowed upgrade once its connection
 * closes: Envoy's stream for it lasts as long as the upgraded connection does. With
 * `options`, the head the application answers with gets what a forwarded response gets.
 */
export function upgradeGuard(handle: InboundHandle, options?: UpgradeGuardOptions): UpgradeGuard {
  return (req, socket, head, proceed) => {
    // A response on the upgrade's socket, for a refusal (node made none: the socket is the
    // listeners' to write on).
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    decideNodeRequest(
      handle,
      req,
      res,
      (d, observation) => {
        if (!d.allow) {
          res.shouldKeepAlive = false;
          res.once('finish', () => socket.end());
          writeDenial(res, d);
          return;
        }
        res.detachSocket(socket as Socket);
        applyRequestHeaderEdits(req, d.removeHeaders, d.setHeaders);
        req.url = d.url;
        (req as IncomingMessage & { meshlet?: unknown }).meshlet = d.context;
        (req as DecidedUpgrade)[kDecided] = d;
        // Called inside the request's context already (decideNodeRequest decides in it).
        observation?.upgraded?.(socket, head);
        // After the count's wrapper: the bytes counted are the stamped ones.
        if (options !== undefined)
          stampUpgradeResponse(socket, {
            headers: d.responseHeaders,
            operation: responseOperationOf(res),
            server: options.server(),
          });
        proceed();
      },
      () => socket.destroy(),
    );
  };
}
