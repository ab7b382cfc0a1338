import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RefusedRequest } from '../codec-refusal-report.js';
import { connectionPeerOf } from './peer-registry.js';
import { refusedNodeRequest } from './refused-node-request.js';

/** How a mesh server answers a request without a Host. */
export interface MissingHostOptions {
  /** The `server` header (proxyHeaders.server), null for none. */
  readonly server: string | null;
  /** Whether the listener accepts HTTP/1.0 (else the engine answers it 426 first). */
  readonly acceptHttp10: boolean;
  readonly onRefusal?: ((r: RefusedRequest) => void) | undefined;
}

/**
 * Envoy's connection manager answers a request without a Host (`:authority`) `400` with no
 * body, details `missing_host_header`, before routing it (conn_manager_impl.cc decodeHeaders;
 * an HTTP/1.0 request the listener does not accept is answered `426` before that, and an
 * absolute-form target gives the codec its authority). node would answer it with a bare 400
 * of its own (`requireHostHeader`), unseen by the mesh; the mesh server turns that off and
 * answers here, reporting it (`onRefusal`) as the connection manager's refusal. Returns
 * whether it answered.
 */
export function answerMissingHost(
  req: IncomingMessage,
  res: ServerResponse,
  options: MissingHostOptions,
): boolean {
  if (req.headers.host !== undefined) return false;
  if (req.httpVersion === '1.0' && !options.acceptHttp10) return false;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(req.url ?? '')) return false;
  const start = Date.now();
  res.statusCode = 400;
  res.setHeader('content-length', '0');
  if (options.server !== null && !/[\r\n\0]/.test(options.server)) res.setHeader('server', options.server);
  // A 400 is a messaging error: the connection closes (ActiveStream::sendLocalReply).
  res.setHeader('connection', 'close');
  const onRefusal = options.onRefusal;
  if (onRefusal !== undefined)
    res.once('finish', () =>
      onRefusal(
        refusedNodeRequest(
          req,
          res,
          { refusal: { status: 400, details: 'missing_host_header', body: '' }, flags: [] },
          { peer: connectionPeerOf(req.socket)?.peer ?? null, withRequest: true, startEpoch: start },
        ),
      ),
    );
  res.end();
  return true;
}
