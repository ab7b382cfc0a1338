import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANONYMOUS, type MeshletRequestContext } from '../inbound/request-context.js';
import { expressListener } from './express-listener.js';
import type { ExpressLike, FastifyLike, MockApp, MockContext, MockHandler, MockReply } from './types.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

function isFastify(app: MockApp): app is FastifyLike {
  const a = app as Partial<FastifyLike>;
  return typeof a.routing === 'function' && typeof a.ready === 'function' && typeof a.server === 'object';
}

function isExpress(app: MockApp): app is ExpressLike {
  const a = app as Partial<ExpressLike>;
  // An Express app is a request listener with `use` and its router's `handle`.
  return (
    typeof app === 'function' &&
    typeof a.use === 'function' &&
    typeof (app as { handle?: unknown }).handle === 'function'
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function writeReply(res: ServerResponse, reply: MockReply): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  const body = reply.body;
  if (body === undefined || body === null) {
    res.end();
    return;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.end(body);
    return;
  }
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function handlerListener(handler: MockHandler, ctx: MockContext): RequestListener {
  return (req, res) => {
    const context: MeshletRequestContext =
      (req as IncomingMessage & { meshlet?: MeshletRequestContext }).meshlet ?? ANONYMOUS;
    const url = req.url ?? '/';
    readBody(req)
      .then((body) =>
        handler(
          {
            method: req.method ?? 'GET',
            path: url.split('?')[0] ?? url,
            url,
            headers: req.headers as Record<string, string | string[]>,
            body: body.toString('utf8'),
            rawBody: body,
            peer: context.peer,
            auth: context.auth,
          },
          ctx,
        ),
      )
      .then(
        (reply) => writeReply(res, reply),
        (err: unknown) => {
          // What a Node server answers for an uncaught handler error.
          if (!res.headersSent) res.statusCode = 500;
          res.end(err instanceof Error ? err.message : String(err));
        },
      );
  };
}

/**
 * The Node request listener behind a mock service: a mock handler, an Express app, or a
 * Fastify instance served through its server's request listener, as a socket would reach
 * it (so a plugin that wraps that listener, as `@meshlet/fastify` does, runs), after
 * `ready()`, which runs on the first request so routes may be added after `mm.service`.
 */
export function appListener(app: MockApp, ctx: MockContext): RequestListener {
  if (isFastify(app)) {
    let ready: Promise<unknown> | null = null;
    return (req, res) => {
      ready ??= Promise.resolve(app.ready());
      ready.then(
        () => app.server.emit('request', req, res),
        (err: unknown) => {
          res.statusCode = 500;
          res.end(err instanceof Error ? err.message : String(err));
        },
      );
    };
  }
  if (isExpress(app)) return expressListener(app);
  return handlerListener(app, ctx);
}
