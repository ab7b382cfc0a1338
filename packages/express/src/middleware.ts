import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  admitNodeRequest,
  decideNodeRequest,
  inboundHandleFrom,
  writeDenial,
  type InboundHandle,
  type MeshletRequestContext,
} from '@meshlet/core';

declare global {
  // Express's own request type lives in this global namespace (@types/express-serve-static-core);
  // augmenting it needs no dependency on the types package.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** meshlet's view of the caller: verified mTLS peer and JWT identity (null when absent). */
      meshlet: MeshletRequestContext;
    }
  }
}

/** Options of the meshlet Express middleware. */
export interface MeshletExpressOptions {
  /** The mesh from `createMesh` (or anything with an `inbound` handle): decides every request. */
  readonly mesh: { readonly inbound: InboundHandle };
}

/** The request as the middleware leaves it. */
export type MeshletRequest = IncomingMessage & { meshlet: MeshletRequestContext };

/** Body of the 500 sent when the middleware is mounted below the root and the path needs normalizing. */
export const NOT_AT_ROOT_MESSAGE =
  '@meshlet/express must be mounted at the application root (app.use(meshlet({ mesh })) before any route)';

interface ExpressRequestFields {
  originalUrl?: string;
  baseUrl?: string;
}

/**
 * `app.use(meshlet({ mesh }))`, mounted first: enforces the mesh's inbound policy
 * (PeerAuthentication identity, RequestAuthentication, AuthorizationPolicy, local rate
 * limits) before any route or body parser, rewrites `req.url` to the normalized URL
 * authorization checked (Express routes on `req.url`; `req.originalUrl` keeps what was
 * sent), and sets `req.meshlet`. A plain `(req, res, next)` middleware.
 */
export function meshlet(options: MeshletExpressOptions) {
  const handle = inboundHandleFrom(options, '@meshlet/express');
  return function meshletMiddleware(
    req: IncomingMessage,
    res: ServerResponse,
    next: (err?: unknown) => void,
  ): void {
    const fields = req as IncomingMessage & ExpressRequestFields;
    // Below a mount path Express has stripped the prefix from req.url; the engine must see the whole target.
    const mounted = fields.baseUrl !== undefined && fields.baseUrl !== '';
    const target = fields.originalUrl ?? req.url;
    decideNodeRequest(
      handle,
      req,
      res,
      (decision, observation) => {
        if (!decision.allow) {
          writeDenial(res, decision);
          return;
        }
        if (decision.url !== target) {
          if (mounted) {
            next(new Error(NOT_AT_ROOT_MESSAGE));
            return;
          }
          req.url = decision.url;
        }
        admitNodeRequest(handle, req, res, decision);
        // The rest of the app runs in the request's trace context (mesh.fetch continues the trace).
        if (observation === null) next();
        else observation.run(next);
      },
      next,
      target ?? '/',
    );
  };
}
