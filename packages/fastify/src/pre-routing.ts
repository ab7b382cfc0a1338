import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { decideNodeRequest, type InboundDecision, type InboundHandle } from '@meshlet/core';

const kDecided = Symbol('meshlet.decided');
const kInstalled = Symbol('meshlet.preRouting');

/** The outcome of the pre-routing decision, carried on the raw request to the onRequest hook. */
export type PreRoutingOutcome = { readonly decision: InboundDecision } | { readonly error: unknown };

interface DecidedRequest extends IncomingMessage {
  [kDecided]?: PreRoutingOutcome;
  /** Fastify's `request.originalUrl` reads this when set (the `rewriteUrl` convention). */
  originalUrl?: string;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type ListeningServer = Pick<Server, 'listeners' | 'removeAllListeners' | 'on'> & { [kInstalled]?: true };

/** Takes the pre-routing outcome of a request (once), or undefined when none ran. */
export function takePreRoutingOutcome(req: IncomingMessage): PreRoutingOutcome | undefined {
  const r = req as DecidedRequest;
  const outcome = r[kDecided];
  if (outcome !== undefined) r[kDecided] = undefined;
  return outcome;
}

/**
 * Fastify matches the route on `req.url` before the first hook runs, and its only
 * pre-routing hook, the `rewriteUrl` server option, is synchronous and unavailable
 * to a plugin. So the plugin puts the decision in front of Fastify's own `request`
 * listener: decide, rewrite `req.url` to the normalized URL authorization checked,
 * then hand the request to Fastify, which routes on that URL. The decision (or the
 * error) travels on the request to the plugin's `onRequest` hook, which replies
 * through Fastify. Returns false when the server has no request listener to wrap
 * (then the hook decides, and rejects what it cannot route equally).
 */
export function installPreRouting(server: ListeningServer, handle: InboundHandle): boolean {
  if (server[kInstalled] === true) return true;
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length === 0) return false;
  server.removeAllListeners('request');
  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    for (const listener of listeners) listener(req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const r = req as DecidedRequest;
    decideNodeRequest(
      handle,
      req,
      res,
      (decision, observation) => {
        r[kDecided] = { decision };
        if (decision.allow && decision.url !== req.url) {
          r.originalUrl = req.url;
          req.url = decision.url;
        }
        // Fastify's routing, hooks and handler run in the request's trace context.
        if (observation === null) dispatch(req, res);
        else observation.run(() => dispatch(req, res));
      },
      (error: unknown) => {
        r[kDecided] = { error };
        dispatch(req, res);
      },
    );
  });
  server[kInstalled] = true;
  return true;
}
