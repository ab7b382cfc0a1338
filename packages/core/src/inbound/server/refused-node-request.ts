import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RefusedRequest } from '../codec-refusal-report.js';
import { connectionFactsOf } from '../node-request.js';
import type { PeerIdentity } from '../request-context.js';
import { sentResponseHeaders } from '../sent-headers.js';
import { requestHeadBytes } from '../../telemetry/wire-bytes.js';

/**
 * What the report of a refusal answered through node's `res` says of it, once `res` finished:
 * the connection's facts, the request line and headers when the connection manager had them
 * (`withRequest`; the codec hands over none), the request head's size and the reply as sent.
 */
export function refusedNodeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  refused: Pick<RefusedRequest, 'refusal' | 'flags'>,
  options: { readonly peer: PeerIdentity | null; readonly withRequest: boolean; readonly startEpoch: number },
): RefusedRequest {
  const block = (res as { _header?: unknown })._header;
  return {
    ...refused,
    ...connectionFactsOf(req.socket, options.peer),
    ...(options.withRequest
      ? {
          request: {
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            authority: req.headers.host ?? '',
            protocol: `HTTP/${req.httpVersion}`,
            headers: req.headers,
          },
        }
      : {}),
    connection: req.socket,
    startEpoch: options.startEpoch,
    durationMs: Date.now() - options.startEpoch,
    requestBytes: requestHeadBytes(req.method ?? '', req.url ?? '', req.rawHeaders),
    replyHeaderBytes: typeof block === 'string' ? block.length : 0,
    replyBodyBytes: Buffer.byteLength(refused.refusal.body),
    replyHeaders: sentResponseHeaders(res) as Readonly<Record<string, string>>,
  };
}
