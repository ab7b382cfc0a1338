import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { got, type Got, type Method, type OptionsInit, type Response } from 'got';
import {
  TransportError,
  type PoolReadyListener,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from '../transport.js';
import { keepTlsFacts, tlsConnectionOf } from '../../telemetry/access-log/tls-fields.js';
import { mappedBody } from './body-stream.js';
import { toTransportError } from './failure.js';
import { headersFromRaw } from './headers.js';
import { createPoolAgent, type PoolAgent } from './pool-agent.js';
import { PoolRegistry } from './pool-registry.js';
import { sendUpgrade } from './node-upgrade.js';

/** got ends these itself when no body is given; on any other method its stream waits for a write. */
const GOT_NO_BODY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * got with everything the mesh owns switched off: no retries, no redirects, no
 * decompression, no timeouts but connect, HTTP errors as responses. got's default
 * `user-agent` is removed so the upstream sees what the caller sent, as through Envoy.
 */
function meshGot(): Got {
  return got.extend({
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    http2: false,
    headers: { 'user-agent': undefined },
  });
}

/** `ip:port` (`[ip]:port` for IPv6) of a connected socket's local end, as Envoy prints addresses. */
function socketAddress(socket: Socket | null): string | null {
  const ip = socket?.localAddress;
  const port = socket?.localPort;
  if (ip === undefined || port === undefined) return null;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Tracks whether any byte of the request reached a connected socket, and tells `ready`
 * when the agent's socket (reused, or new once connected) can carry it: Envoy's pool ready.
 */
class SendState {
  socket: Socket | null = null;
  connected = false;
  readonly #ready: PoolReadyListener | null;
  /** The client certificate chain a new TLS connection presents (kept for the access log). */
  readonly #localCert: string | Buffer | null;

  constructor(ready: PoolReadyListener | null, localCert: string | Buffer | null) {
    this.#ready = ready;
    this.#localCert = localCert;
  }

  watch(request: ClientRequest): void {
    request.once('socket', (socket: Socket) => {
      this.socket = socket;
      if (!socket.connecting) {
        this.connected = true;
        this.#ready?.poolReady();
        return;
      }
      // An https socket is ready to carry the request only after the handshake.
      const tls = tlsConnectionOf(socket);
      socket.once(tls === null ? 'connect' : 'secureConnect', () => {
        this.connected = true;
        // Once per connection: what the access log may read of it after it closes.
        if (tls !== null) keepTlsFacts(tls, this.#localCert);
        this.#ready?.poolReady();
      });
    });
  }

  get beforeRequestSent(): boolean {
    return !this.connected;
  }
}

/**
 * The default transport: got 14 over one keep-alive agent per `poolKey` with the
 * DestinationRule's connection-pool settings (see pool-agent.ts). Streams both ways.
 */
export function createGotTransport(): Transport {
  const client = meshGot();
  const pools = new PoolRegistry<PoolAgent>((settings, req) =>
    createPoolAgent(settings, req.url.protocol === 'https:'),
  );

  function request(req: TransportRequest): Promise<TransportResponse> {
    if (pools.closed) {
      return Promise.reject(new TransportError('connect-failure', 'transport is closed', true));
    }
    const signal = req.signal;
    if (signal?.aborted === true) {
      return Promise.reject(new TransportError('aborted', 'request aborted before it was sent', true));
    }
    const pool = pools.get(req);
    if (req.tls !== null) pool.check.verifyPeer = req.tls.verifyPeer;
    const options: OptionsInit & { isStream?: true } = {
      method: req.method as Method,
      headers: req.headers as Record<string, string | string[]>,
      agent: pool.agents,
    };
    // Envoy's connect timeout runs until the transport socket is up, TLS handshake included;
    // got times the TCP connect and the handshake separately.
    if (req.connectTimeoutMs > 0)
      options.timeout = { connect: req.connectTimeoutMs, secureConnect: req.connectTimeoutMs };
    if (signal !== null) options.signal = signal;
    if (req.body !== null) {
      options.body = req.body;
      if (req.method === 'GET') options.allowGetBody = true;
    }
    const endNow = req.body === null && !GOT_NO_BODY_METHODS.has(req.method);

    const state = new SendState(req.onPoolReady ?? null, req.tls?.cert ?? null);
    const mapError = (err: unknown): TransportError =>
      toTransportError(err, {
        aborted: signal?.aborted === true,
        beforeRequestSent: state.beforeRequestSent,
      });

    return new Promise<TransportResponse>((resolve, reject) => {
      const stream = client.stream(req.url, options);
      if (endNow) stream.end();
      stream.once('request', (r: ClientRequest) => state.watch(r));
      const onError = (err: unknown): void => reject(mapError(err));
      stream.once('error', onError);
      stream.once('response', (res: Response) => {
        stream.off('error', onError);
        resolve({
          status: res.statusCode,
          headers: headersFromRaw(res.rawHeaders),
          body: mappedBody(stream, mapError),
          localAddress: socketAddress(state.socket),
          connection: state.socket,
        });
      });
    });
  }

  return Object.freeze({
    name: 'got',
    signalsPoolReady: true,
    request,
    upgrade: sendUpgrade,
    close: () => pools.close(),
  });
}
