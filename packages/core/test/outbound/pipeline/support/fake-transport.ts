import { Readable } from 'node:stream';
import {
  TransportError,
  type Transport,
  type TransportFailure,
  type TransportRequest,
  type TransportResponse,
} from '../../../../src/outbound/transport.js';

/** One request as the fake upstream saw it. */
export interface SeenRequest {
  readonly address: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string;
  readonly signal: AbortSignal | null;
}

export type FakeReply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly fail: TransportFailure; readonly beforeRequestSent?: boolean };

/** An in-memory upstream: may await the injected clock (with the signal) before answering. */
export type FakeHandler = (req: SeenRequest, signal: AbortSignal | null) => FakeReply | Promise<FakeReply>;

export interface FakeTransport extends Transport {
  readonly seen: SeenRequest[];
  /** Response bodies handed out and not yet ended or destroyed. */
  openBodies(): number;
}

async function readBody(body: TransportRequest['body']): Promise<string> {
  if (body === null) return '';
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function abortError(): TransportError {
  return new TransportError('aborted', 'aborted', false);
}

/** A Transport over `handler`, honouring `signal` the way real transports do (reject with `aborted`). */
export function createFakeTransport(handler: FakeHandler): FakeTransport {
  const seen: SeenRequest[] = [];
  const bodies: Readable[] = [];
  return {
    name: 'fake',
    seen,
    openBodies: () => bodies.filter((b) => !b.destroyed && !b.readableEnded).length,
    close: () => Promise.resolve(),
    async request(req: TransportRequest): Promise<TransportResponse> {
      if (req.signal?.aborted === true) throw abortError();
      const body = await readBody(req.body);
      const s: SeenRequest = {
        address: `${req.url.hostname.replace(/^\[|\]$/g, '')}:${req.url.port || (req.url.protocol === 'https:' ? 443 : 80)}`,
        method: req.method,
        path: req.url.pathname + req.url.search,
        headers: req.headers,
        body,
        signal: req.signal,
      };
      seen.push(s);
      const reply = await new Promise<FakeReply>((resolve, reject) => {
        const onAbort = (): void => reject(abortError());
        req.signal?.addEventListener('abort', onAbort, { once: true });
        Promise.resolve(handler(s, req.signal)).then(
          (r) => {
            req.signal?.removeEventListener('abort', onAbort);
            resolve(r);
          },
          (e: unknown) => {
            req.signal?.removeEventListener('abort', onAbort);
            reject(req.signal?.aborted === true ? abortError() : (e as Error));
          },
        );
      });
      if ('fail' in reply) {
        throw new TransportError(
          reply.fail,
          `fake ${reply.fail}`,
          reply.beforeRequestSent ?? reply.fail.startsWith('connect'),
        );
      }
      const stream = Readable.from([Buffer.from(reply.body ?? '')]);
      bodies.push(stream);
      return { status: reply.status, headers: { ...(reply.headers ?? {}) }, body: stream };
    },
  };
}
