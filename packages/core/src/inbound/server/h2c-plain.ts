import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Serves an `h2c` upgrade request with no body as the plain HTTP/1.1 request Envoy's codec
 * makes of it (codec_impl.cc: an h2c upgrade's `Upgrade`, `HTTP2-Settings` and its
 * `Connection` options are taken off, and the request goes on as any): `serve` gets it with
 * those headers removed and a response on its connection, which closes once the response is
 * sent (node's parser let go of the connection when it saw the upgrade). Returns false, and
 * leaves the request to the upgrade listeners, for any other upgrade, and for an h2c request
 * with a body (node stopped reading at its head).
 */
export function servedPlain(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  serve: (req: IncomingMessage, res: ServerResponse) => void,
): boolean {
  if ((req.headers.upgrade ?? '').trim().toLowerCase() !== 'h2c') return false;
  const length = req.headers['content-length'];
  if (
    head.length > 0 ||
    req.headers['transfer-encoding'] !== undefined ||
    (length !== undefined && length !== '0')
  )
    return false;
  for (const name of ['upgrade', 'http2-settings', 'connection']) delete req.headers[name];
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name !== 'upgrade' && name !== 'http2-settings' && name !== 'connection')
      kept.push(raw[i]!, raw[i + 1]!);
  }
  raw.splice(0, raw.length, ...kept);
  const res = new ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.shouldKeepAlive = false;
  res.once('finish', () => socket.end());
  serve(req, res);
  return true;
}
