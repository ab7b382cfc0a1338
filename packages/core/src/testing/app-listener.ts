import type { IncomingMessage, ServerResponse } from 'node:http';
import { MeshletError } from '../errors/meshlet-error.js';
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
export function appListener(app: MockApp, ctx: MockContext, adapter: AdapterCheck): RequestListener {
  if (isFastify(app)) {
    let ready: Promise<unknown> | null = null;
    return (req, res) => {
      ready ??= Promise.resolve(app.ready());
      ready.then(
        () => {
          const problem = adapter.mismatch(app.hasPlugin?.('@meshlet/fastify') === true, '@meshlet/fastify');
          if (problem === null) app.server.emit('request', req, res);
          else fail(res, problem);
        },
        (err: unknown) => fail(res, err instanceof Error ? err.message : String(err)),
      );
    };
  }
  if (isExpress(app)) {
    const serve = expressListener(app);
    return (req, res) => {
      const stack = (app as { router?: { stack?: readonly { name?: string }[] } }).router?.stack ?? [];
      const problem = adapter.mismatch(
        stack.some((layer) => layer.name === 'meshletMiddleware'),
        '@meshlet/express',
      );
      if (problem === null) serve(req, res);
      else fail(res, problem);
    };
  }
  if (adapter.declared) {
    throw new MeshletError(
      'MESHLET_ERR_MESH_OPTIONS',
      `mock pod ${adapter.pod}: { adapter: true } is for a Fastify or Express app that registers meshlet's adapter; a mock handler always runs behind the mock sidecar`,
      { option: 'adapter' },
    );
  }
  return handlerListener(app, ctx);
}

function fail(res: ServerResponse, message: string): void {
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain');
  res.end(message);
}

/**
 * Whether the app's own meshlet adapter and `adapter: true` agree. Both sidecars would
 * decide and count each request twice; neither would let every request in undecided.
 */
export class AdapterCheck {
  constructor(
    readonly declared: boolean,
    readonly pod: string,
  ) {}

  /** The problem to answer with (a 500), or null when the app and the option agree. */
  mismatch(registered: boolean, name: string): string | null {
    if (registered === this.declared) return null;
    return registered
      ? `mock pod ${this.pod}: the app registers ${name} itself; give mm.service { adapter: true } and register it with { mesh: await service.mesh() }, or remove it and let the mock sidecar decide`
      : `mock pod ${this.pod}: mm.service was given { adapter: true } but the app does not register ${name}, so its requests would go undecided; register it with { mesh: await service.mesh() }`;
  }
}
