import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { h2cBody } from '../../outbound/upgrade-relay.js';

/**
 * Serves an `h2c` upgrade request as the plain HTTP/1.1 request Envoy's codec makes of it
 * (codec_impl.cc: an h2c upgrade's `Upgrade`, `HTTP2-Settings` and its `Connection` options
 * are taken off, and the request goes on as any): `serve` gets it with those headers removed
 * and a response on its connection, which closes once the response is sent (node's parser
 * let go of the connection when it saw the upgrade). A `content-length` body is read first:
 * node's parser stopped at the head, so it is what came with the head (`head`), then the
 * connection's next bytes (upgrade-relay.ts h2cBody), put back on the request's stream.
 * Returns false, and leaves the request to the upgrade listeners, for any other upgrade and
 * for a chunked body (which node's parser left undecoded).
 */
export function servedPlain(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  serve: (req: IncomingMessage, res: ServerResponse) => void,
): boolean {
  if ((req.headers.upgrade ?? '').trim().toLowerCase() !== 'h2c') return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  for (const name of ['upgrade', 'http2-settings', 'connection']) delete req.headers[name];
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name !== 'upgrade' && name !== 'http2-settings' && name !== 'connection')
      kept.push(raw[i]!, raw[i + 1]!);
  }
  raw.splice(0, raw.length, ...kept);
  const start = (): void => {
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    serve(req, res);
  };
  h2cBody(req, { socket, head }).then(
    (body) => {
      // node ended the request's stream at the head; nothing has read it yet, so the body
      // goes back in front of that end.
      if (body !== null) req.unshift(body);
      start();
    },
    () => socket.destroy(),
  );
  return true;
}
