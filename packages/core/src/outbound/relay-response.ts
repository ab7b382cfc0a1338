import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { MeshResponse } from './response.js';

/** Response headers a proxy does not copy from the upstream's response. */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding']);

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
  const out: Record<string, string | readonly string[]> = {};
  r.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !HOP_BY_HOP_RESPONSE.has(name)) out[name] = value;
  });
  const cookies = r.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  for (const [name, value] of Object.entries(extra)) out[name.toLowerCase()] = value;
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
