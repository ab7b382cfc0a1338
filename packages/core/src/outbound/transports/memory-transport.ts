import { constants as osConstants } from 'node:os';
import { Readable } from 'node:stream';
import {
  TransportError,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type TryAbort,
} from '../transport.js';
import { abortOf } from './abort-of.js';

/** What a refused connect reports, as the socket transports do (`delayed connect error: 111`). */
export const REFUSED = `delayed connect error: ${osConstants.errno.ECONNREFUSED}`;

/** What an in-process upstream answers. */
export interface MemoryReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer | Readable | null;
}

/** An in-process upstream: gets the attempt as the transport would send it. */
export type MemoryHandler = (req: TransportRequest) => Promise<MemoryReply> | MemoryReply;

/** The in-memory transport, with its handler table open for the mock mesh to change. */
export interface MemoryTransport extends Transport {
  /** Serve `address:port` (`10.0.0.1:9080`) with `handler`; replaces an earlier one. */
  set(endpoint: string, handler: MemoryHandler): void;
  /** Stop serving `address:port`: later calls fail as a refused connect. */
  delete(endpoint: string): void;
}

const EMPTY = Buffer.alloc(0);

function bodyOf(body: MemoryReply['body']): Readable {
  if (body instanceof Readable) return body;
  // One pre-filled stream; no generator or async iteration per call (bench hot path).
  const r = new Readable({ read() {} });
  const chunk = body === undefined || body === null ? EMPTY : body;
  if (chunk.length > 0) r.push(chunk);
  r.push(null);
  return r;
}

function lowerCased(headers: MemoryReply['headers']): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {};
  if (headers === undefined) return out;
  for (const name in headers) out[name.toLowerCase()] = headers[name] as string | readonly string[];
  return out;
}

/** Our abort after the response started ends its body with an `aborted` error, as a socket would. */
function abortBodyOn(abort: TryAbort, body: Readable): void {
  const onAbort = (): void => {
    body.destroy(new TransportError('aborted', 'request aborted', false, { cause: abort.reason }));
  };
  abort.onAbort(onAbort);
  body.once('close', () => abort.offAbort(onAbort));
}

/**
 * Routes each attempt by the URL's `address:port` to an in-process handler, without
 * sockets: for benchmarks (the pipeline's own cost, with no network under it) and the
 * mock mesh. An unknown endpoint fails as a refused connect (Envoy `UF`); a handler
 * that throws fails as a reset after the request was sent; our abort rejects at once.
 */
export function createMemoryTransport(
  handlers: Readonly<Record<string, MemoryHandler>> | ReadonlyMap<string, MemoryHandler> = {},
): MemoryTransport {
  const table = new Map<string, MemoryHandler>(
    handlers instanceof Map ? handlers : Object.entries(handlers as Record<string, MemoryHandler>),
  );
  let closed = false;

  async function call(handler: MemoryHandler, req: TransportRequest): Promise<TransportResponse> {
    let reply: MemoryReply;
    try {
      reply = await handler(req);
    } catch (err) {
      throw new TransportError('reset', err instanceof Error ? err.message : String(err), false, {
        cause: err,
      });
    }
    return { status: reply.status, headers: lowerCased(reply.headers), body: bodyOf(reply.body) };
  }

  function request(req: TransportRequest): Promise<TransportResponse> {
    const url = req.url;
    // URL drops a default port; the table is keyed by `address:port` always.
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    const endpoint = `${url.hostname}:${port}`;
    const handler = closed ? undefined : table.get(endpoint);
    if (handler === undefined) {
      return Promise.reject(
        new TransportError('connect-failure', `connect ECONNREFUSED ${endpoint} (in-memory)`, true, {
          transportFailureReason: REFUSED,
        }),
      );
    }
    // The try's abort, not its signal: no AbortSignal is made for an in-memory call.
    const abort = abortOf(req);
    if (abort === null) return call(handler, req);
    if (abort.aborted) {
      return Promise.reject(new TransportError('aborted', 'request aborted before it was sent', true));
    }
    return new Promise<TransportResponse>((resolve, reject) => {
      const onAbort = (): void => {
        reject(new TransportError('aborted', 'request aborted', false, { cause: abort.reason }));
      };
      abort.onAbort(onAbort);
      call(handler, req).then(
        (res) => {
          abort.offAbort(onAbort);
          if (abort.aborted) {
            res.body.destroy();
            return;
          }
          abortBodyOn(abort, res.body);
          resolve(res);
        },
        (err: unknown) => {
          abort.offAbort(onAbort);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  return Object.freeze({
    name: 'memory',
    listensToAbort: true,
    request,
    set: (endpoint: string, handler: MemoryHandler) => {
      table.set(endpoint, handler);
    },
    delete: (endpoint: string) => {
      table.delete(endpoint);
    },
    close: () => {
      closed = true;
      table.clear();
      return Promise.resolve();
    },
  });
}
