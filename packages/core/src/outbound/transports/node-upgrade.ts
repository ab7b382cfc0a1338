import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { keepTlsFacts } from '../../telemetry/access-log/tls-fields.js';
import { TransportError, type TransportRequest, type TransportResponse } from '../transport.js';
import { mappedBody } from './body-stream.js';
import { toTransportError } from './failure.js';
import { headersFromRaw } from './headers.js';
import { clientTlsOptions } from './tls-options.js';

/** `ip:port` (`[ip]:port` for IPv6) of the socket's local end. */
function localAddressOf(socket: Socket): string | null {
  const ip = socket.localAddress;
  const port = socket.localPort;
  if (ip === undefined || port === undefined) return null;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The connection of one upgrade request: plain TCP, or TLS with the cluster's client context. */
function dial(req: TransportRequest): { socket: Socket; up: 'connect' | 'secureConnect' } {
  const host = req.url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(req.url.port);
  if (req.tls === null) return { socket: netConnect({ host, port }), up: 'connect' };
  const socket: TLSSocket = tlsConnect({
    ...clientTlsOptions(req.tls, { verifyPeer: req.tls.verifyPeer }),
    host,
    port,
  });
  return { socket, up: 'secureConnect' };
}

function connectTimeout(ms: number): Error {
  // The code failure.ts maps to `connect-timeout` (Envoy's UF, retried under connect-failure).
  return Object.assign(new Error(`connect timeout after ${ms} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
}

/**
 * An upgrade request (`req.upgrade`, a WebSocket's) on a connection of its own, as Envoy's
 * router sends one: an upgraded HTTP/1 connection carries that stream alone and never goes
 * back to the pool, so none is taken from it. The request goes with `Connection: Upgrade`
 * and its `Upgrade` token; a 101 resolves with the connection handed over
 * (`upgraded`), any other status as a plain response whose body is read off the same
 * connection. Failures reject with a `TransportError` as the pooled transports' do, the
 * connect timeout covering the TLS handshake.
 */
export function sendUpgrade(req: TransportRequest): Promise<TransportResponse> {
  const signal = req.signal;
  if (signal?.aborted === true)
    return Promise.reject(new TransportError('aborted', 'request aborted before it was sent', true));
  const { socket, up } = dial(req);
  let connected = false;
  const mapError = (err: unknown): TransportError =>
    toTransportError(err, { aborted: signal?.aborted === true, beforeRequestSent: !connected });
  const timeoutMs = req.connectTimeoutMs;
  const timer = timeoutMs > 0 ? setTimeout(() => socket.destroy(connectTimeout(timeoutMs)), timeoutMs) : null;
  socket.once(up, () => {
    connected = true;
    if (timer !== null) clearTimeout(timer);
    if (up === 'secureConnect') keepTlsFacts(socket as TLSSocket, req.tls?.cert ?? null);
    req.onPoolReady?.poolReady();
  });
  socket.once('close', () => {
    if (timer !== null) clearTimeout(timer);
  });
  const headers: Record<string, string | readonly string[]> = {
    ...req.headers,
    connection: 'Upgrade',
    upgrade: req.upgrade ?? 'websocket',
  };
  const r = httpRequest({
    method: req.method,
    path: `${req.url.pathname}${req.url.search}`,
    headers: headers as Record<string, string | string[]>,
    createConnection: () => socket,
  });
  return new Promise<TransportResponse>((resolve, reject) => {
    const onAbort = (): void => {
      r.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settled = (): void => signal?.removeEventListener('abort', onAbort);
    r.once('error', (err) => {
      settled();
      reject(mapError(err));
    });
    r.once('upgrade', (res: IncomingMessage, upgraded: Socket, head: Buffer) => {
      settled();
      resolve({
        status: res.statusCode ?? 101,
        headers: headersFromRaw(res.rawHeaders),
        body: Readable.from([]),
        localAddress: localAddressOf(upgraded),
        connection: upgraded,
        upgraded: { socket: upgraded, head },
      });
    });
    r.once('response', (res: IncomingMessage) => {
      settled();
      resolve({
        status: res.statusCode ?? 0,
        headers: headersFromRaw(res.rawHeaders),
        body: mappedBody(res, mapError),
        localAddress: localAddressOf(socket),
        connection: socket,
      });
    });
    if (req.body === null) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else req.body.pipe(r);
  });
}
