import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GatewayReply } from './client.js';
import { responseFields } from './relay-response.js';
import type { MeshResponse } from './response.js';
import type { UpgradedConnection } from './transport.js';

/** node's `upgrade` listener. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The client's side of an upgrade request node handed over: its connection and early bytes. */
export interface ClientUpgrade {
  readonly socket: Duplex;
  /** What node read past the request's head (early frames, or a body). */
  readonly head: Buffer;
}

/**
 * What a connection manager of Istio's (the gateway's, the sidecar's outbound one) does with
 * an upgrade request, by its `Upgrade` token. Istio's
 * connection managers allow `websocket` upgrades only (listener_builder.go `UpgradeConfigs`):
 * a WebSocket is proxied; `h2c` is taken off by Envoy's HTTP/1 codec, which serves the
 * request as a plain one (codec_impl.cc, `isH2UpgradeRequest`); any other token fails the
 * filter chain's creation, `403` `upgrade_failed` (conn_manager_impl.cc createFilterChain).
 * So does `websocket` when the mesh's transport carries no upgrade (`websockets` false): the
 * connection manager is then one without that upgrade configured.
 */
export function upgradeToken(req: IncomingMessage, websockets: boolean): 'websocket' | 'h2c' | 'refused' {
  const token = (req.headers.upgrade ?? '').trim().toLowerCase();
  if (token === 'websocket') return websockets ? 'websocket' : 'refused';
  return token === 'h2c' ? 'h2c' : 'refused';
}

/** The local reply to an upgrade no connection manager of Istio's allows: 403, no body. */
export const UPGRADE_FAILED: GatewayReply = Object.freeze({
  status: 403,
  headers: {},
  body: '',
  flags: [],
  details: 'upgrade_failed',
});

/**
 * A response on an upgrade request's connection, for every answer but a 101 (node made
 * none: the connection is the upgrade listener's), which closes the connection once sent:
 * node's parser has let go of it, so no further request can be read off it.
 */
export function acceptUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): { res: ServerResponse; client: ClientUpgrade } {
  const res = new ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.shouldKeepAlive = false;
  res.once('finish', () => socket.end());
  // An error on a connection being closed is the close; the report has it from the stream.
  socket.on('error', () => undefined);
  return { res, client: { socket, head } };
}

/**
 * The body of an `h2c` upgrade request served as a plain one: node's parser stopped at
 * the head, so the body is what it read past it, then the connection's next bytes, up to
 * the request's `content-length`. null when it declares none; rejects for a chunked body.
 */
export function h2cBody(req: IncomingMessage, client: ClientUpgrade): Promise<Buffer | null> {
  if (req.headers['transfer-encoding'] !== undefined)
    return Promise.reject(
      new Error('a chunked body on an h2c upgrade request is not supported; send it with a content-length'),
    );
  const length = Number(req.headers['content-length'] ?? '0');
  if (!Number.isSafeInteger(length) || length <= 0) return Promise.resolve(null);
  const chunks: Buffer[] = [client.head];
  let have = client.head.length;
  if (have >= length) return Promise.resolve(client.head.subarray(0, length));
  return new Promise((resolve, reject) => {
    const socket = client.socket;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have < length) return;
      done();
      resolve(Buffer.concat(chunks).subarray(0, length));
    };
    const onEnd = (): void => {
      done();
      reject(new Error('the client closed the connection before the body was complete'));
    };
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

/** Response headers a proxy writes itself on a 101 (the switch) or never copies. */
const OWN_101_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'transfer-encoding',
]);

/**
 * The upstream switched protocols: its 101 goes to the client with the response headers
 * the route and the gateway's filters set, then the bytes flow both ways until a side
 * closes, when the other is closed too. As Envoy's HTTP/1 codec encodes an upgrade
 * response, the switch's own headers are the connection manager's: `Connection: Upgrade`
 * and the upstream's `Upgrade` token. The client's connection is in `tunnels` while it is open.
 */
export function joinUpgraded(
  res: ServerResponse,
  client: ClientUpgrade,
  response: MeshResponse,
  upstream: UpgradedConnection,
  extra: Readonly<Record<string, string | readonly string[]>>,
  tunnels?: Set<Duplex>,
): void {
  const socket = client.socket;
  // The owner closes what it relays when it closes (mesh.close): node's server no longer
  // tracks a connection it handed over, so closing the server would wait for it.
  if (tunnels !== undefined) {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
  }
  res.detachSocket(socket as Socket);
  const fields = responseFields(response, OWN_101_HEADERS, extra);
  let head = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}\r\n`;
  head += `connection: Upgrade\r\nupgrade: ${response.headers.get('upgrade') ?? 'websocket'}\r\n`;
  for (const [name, value] of Object.entries(fields))
    for (const one of typeof value === 'string' ? [value] : value) head += `${name}: ${one}\r\n`;
  socket.write(`${head}\r\n`);
  const up = upstream.socket;
  up.on('error', () => undefined);
  if (upstream.head.length > 0) socket.write(upstream.head);
  if (client.head.length > 0) up.write(client.head);
  // A side's end goes on to the other (the pipes end it, its last bytes flushed); a side
  // closed without one (a reset) closes the other at once, as the connection manager resets
  // the stream.
  socket.once('close', () => {
    if (!up.writableEnded) up.destroy();
  });
  up.once('close', () => {
    if (!socket.writableEnded) socket.destroy();
  });
  socket.pipe(up);
  up.pipe(socket);
}
