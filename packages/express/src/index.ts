import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANONYMOUS, type MeshletRequestContext } from '@meshlet/core';

/** Options of the meshlet Express middleware. */
export interface MeshletExpressOptions {
  /** Reserved for the mesh created with `createMesh` (inbound enforcement lands with issue #4). */
  readonly mesh?: unknown;
}

/** The request as the middleware leaves it. */
export type MeshletRequest = IncomingMessage & { meshlet: MeshletRequestContext };

/** `app.use(meshlet({ mesh }))` — framework-neutral `(req, res, next)` middleware. */
export function meshlet(_options: MeshletExpressOptions = {}) {
  return function meshletMiddleware(
    req: IncomingMessage,
    _res: ServerResponse,
    next: (err?: unknown) => void,
  ): void {
    (req as MeshletRequest).meshlet = ANONYMOUS;
    next();
  };
}

export default meshlet;
