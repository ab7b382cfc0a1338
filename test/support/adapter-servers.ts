import express from 'express';
import Fastify from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Mesh } from '../../packages/core/src/index.js';
import { meshlet as expressMeshlet } from '../../packages/express/src/index.js';
import { meshlet as fastifyMeshlet } from '../../packages/fastify/src/index.js';
import type { Closers } from './httpbin-mesh.js';

/** The two ways a user serves behind meshlet. */
export const ADAPTERS = ['fastify', 'express'] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

/** What a handler sees of a request: the framework's `headers` and node's `rawHeaders`. */
export interface SeenRequest {
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

/**
 * Serves GET `route` behind `mesh` as a user would: a Fastify app with the plugin on Fastify's
 * own server, or an Express app with the middleware on `mesh.listen`. The handler's answer goes
 * out as JSON, or as text when it is a string. Returns the port; the server's close goes on
 * `closers`.
 */
export async function serveBehindMesh(
  kind: AdapterKind,
  mesh: Mesh,
  route: string,
  answer: (req: SeenRequest) => unknown,
  closers: Closers,
): Promise<number> {
  if (kind === 'fastify') {
    const app = Fastify();
    await app.register(fastifyMeshlet, { mesh });
    app.get(route, (req) => answer({ headers: req.headers, rawHeaders: req.raw.rawHeaders }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  }
  const app = express();
  app.use(expressMeshlet({ mesh }));
  app.get(route, (req, res) => {
    const a = answer({ headers: req.headers, rawHeaders: req.rawHeaders });
    if (typeof a === 'string') res.send(a);
    else res.json(a);
  });
  const server = await mesh.listen(app, 0, '127.0.0.1');
  return (server.address() as AddressInfo).port;
}

/** The values of `name` (any case) among raw header lines. */
export function rawValues(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]!.toLowerCase() === name) out.push(rawHeaders[i + 1]!);
  return out;
}
