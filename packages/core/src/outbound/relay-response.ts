import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { MeshResponse } from './response.js';

/** Response headers a proxy does not copy from the upstream's response. */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/**
 * A mesh response's headers as a listener writes them to its client: every field but those in
 * `drop`, `set-cookie` kept as its list (Headers folds the others), `extra` over them.
 */
export function responseFields(
  r: MeshResponse,
  drop: ReadonlySet<string>,
  extra: Readonly<Record<string, string | readonly string[]>>,
): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {};
  r.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !drop.has(name)) out[name] = value;
  });
  const cookies = r.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value;
  return out;
}

/**
 * Writes a response the mesh produced to the client of a listener meshlet runs (the gateway's,
 * the in-process outbound one): its status and headers, less the hop-by-hop ones, with
 * `extra` over them (the gateway filters' response headers), then its body.
 */
export function relayResponse(
  res: ServerResponse,
  r: MeshResponse,
  extra: Readonly<Record<string, string | readonly string[]>> = {},
): void {
  const out = responseFields(r, HOP_BY_HOP_RESPONSE, extra);
  res.writeHead(r.status, out as Record<string, string | string[]>);
  pipeline(r.body, res, () => {});
}

/**
 * Answers a request the listener could not relay (`err`, a bug or a bad input the mesh threw
 * for): `status` with `who: <message>`, or, once the response started, the connection reset.
 */
export function relayFailure(res: ServerResponse, err: unknown, status: number, who: string): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  if (res.destroyed) return;
  const body = `${who}: ${err instanceof Error ? err.message : String(err)}`;
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Bodies of this size or less are read before the call, so a retry can send them again. */
export const BUFFERED_BODY_LIMIT = 1024 * 1024;

/**
 * The body of a request a listener relays: nothing for a request without one, the whole body
 * when it declares a length within {@link BUFFERED_BODY_LIMIT} (Envoy buffers a request body
 * for retries up to its buffer limit), else the request stream itself, sent once.
 */
export async function relayedBody(req: IncomingMessage): Promise<Buffer | IncomingMessage | undefined> {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) {
    req.resume();
    return undefined;
  }
  if (chunked || Number(length) > BUFFERED_BODY_LIMIT) return req;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A signal aborted with `why` when the client's connection closes before `res` was sent. */
export function clientGoneSignal(res: ServerResponse, why: string): AbortSignal {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new Error(why));
  });
  return abort.signal;
}
