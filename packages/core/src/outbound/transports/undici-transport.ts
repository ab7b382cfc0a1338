import { connect as tlsConnect } from 'node:tls';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import {
  TransportError,
  type PoolReadyListener,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from '../transport.js';
import { raceSignal } from '../timeouts.js';
import { mappedBody } from './body-stream.js';
import { toTransportError } from './failure.js';
import { headersFromUndici } from './headers.js';
import type { PoolEntry } from './pool-registry.js';
import { HOP_BY_HOP_HEADERS } from '../hop-by-hop.js';
import { PoolRegistry } from './pool-registry.js';
import type { PoolSettings } from './pool-settings.js';
import { clientTlsOptions, type ClientTlsOptions, type PeerCheck } from './tls-options.js';
import { withConnectionAge } from './undici-connection-age.js';
import { sendUpgrade } from './node-upgrade.js';

/** A day: undici needs a number, and `idleTimeout: 0s` means "never close idle". */
const NEVER_MS = 86_400_000;

interface UndiciPool extends PoolEntry {
  readonly pool: Pool;
  /** The pool, telling a request's `POOL_READY` listener when it gets its connection; made on first use. */
  ready: Dispatcher | null;
  readonly check: PeerCheck;
  /** `maxRequestsPerConnection: 1`: every request says `connection: close`. */
  readonly resetEach: boolean;
}

/**
 * undici takes the SNI name from the request's Host header before its connect options,
 * but an Istio client sends the cluster's SNI (`outbound_.9080_._.reviews...`) whatever
 * the Host header says: the DestinationRule `sni` or auto-mTLS name must win.
 */
function connector(settings: PoolSettings, check: PeerCheck): buildConnector.connector {
  const tls = settings.tls !== null ? clientTlsOptions(settings.tls, check) : {};
  if (settings.tls?.alpn !== undefined) return alpnConnector(settings, tls);
  const base = buildConnector({
    timeout: settings.connectTimeoutMs > 0 ? settings.connectTimeoutMs : 0,
    ...(settings.keepaliveTimeMs === null
      ? {}
      : { keepAlive: true, keepAliveInitialDelay: settings.keepaliveTimeMs }),
    ...tls,
  });
  const servername = settings.tls?.servername ?? null;
  if (servername === null) return base;
  return (options, callback) => base({ ...options, servername }, callback);
}

/**
 * undici's own connector always offers ALPN `http/1.1` only, but an Istio mTLS client
 * offers `istio-http/1.1, istio, http/1.1`, and a sidecar's inbound picks its filter
 * chain by it. This one dials TLS itself with the given ALPN, the cluster's SNI and
 * connect timeout (failing as undici's does, `UND_ERR_CONNECT_TIMEOUT`).
 */
function alpnConnector(settings: PoolSettings, options: ClientTlsOptions | object): buildConnector.connector {
  const servername = settings.tls?.servername ?? undefined;
  const timeoutMs = settings.connectTimeoutMs;
  return ({ hostname, port }, callback) => {
    const socket = tlsConnect({
      ...options,
      ...(servername === undefined ? {} : { servername }),
      host: hostname,
      port: Number(port) || 443,
    });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      if (err === null) callback(null, socket);
      else {
        socket.destroy();
        callback(err, null);
      }
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              finish(
                Object.assign(new Error(`Connect Timeout Error (attempted address: ${hostname}:${port})`), {
                  code: 'UND_ERR_CONNECT_TIMEOUT',
                }),
              ),
            timeoutMs,
          )
        : null;
    socket.setNoDelay(true);
    // undici's own connector's default, unless `tcpKeepalive.time` says otherwise.
    socket.setKeepAlive(true, settings.keepaliveTimeMs ?? 60_000);
    socket.once('secureConnect', () => finish(null));
    socket.once('error', (err: Error) => finish(err));
  };
}

/** Where a request's options carry the try's pool-ready listener to {@link poolReadyInterceptor}. */
const POOL_READY = Symbol('meshlet.poolReady');

type ReadyOptions = Dispatcher.DispatchOptions & { [POOL_READY]?: PoolReadyListener };

/**
 * Passes everything on to undici's handler, telling `ready` first when undici starts the
 * request: it does so on a connected socket, about to write the request (client-h1.js
 * writeH1 → onConnect, which a composed dispatcher sees as `onRequestStart`).
 */
class PoolReadyHandler implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #ready: PoolReadyListener;

  constructor(handler: Dispatcher.DispatchHandler, ready: PoolReadyListener) {
    this.#handler = handler;
    this.#ready = ready;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#ready.poolReady();
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[2],
    socket: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[3],
  ): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2],
    statusMessage?: string,
  ): void {
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>[1],
  ): void {
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#handler.onResponseError?.(controller, error);
  }
}

const poolReadyInterceptor: Dispatcher.DispatcherComposeInterceptor =
  (dispatch) => (opts: ReadyOptions, handler) => {
    const ready = opts[POOL_READY];
    return dispatch(opts, ready === undefined ? handler : new PoolReadyHandler(handler, ready));
  };

/** A late response to a request we stopped waiting for: its body is dropped, as a retry's would be. */
const dropLate = (late: Dispatcher.ResponseData): void => {
  late.body.destroy();
};

/**
 * undici counts a socket's requests after the check (`socket[kCounter]++ >= max`, in
 * lib/dispatcher/client-h1.js), so `maxRequestsPerClient: n` serves n + 1 requests on
 * a socket. Envoy's `max_requests_per_connection: n` serves n: pass n − 1, and for 1
 * reset every request instead.
 */
function createPool(origin: string, settings: PoolSettings): UndiciPool {
  const check: PeerCheck = { verifyPeer: settings.tls?.verifyPeer ?? null };
  const limit = settings.maxRequestsPerConnection;
  const idle = settings.idleTimeoutMs > 0 ? settings.idleTimeoutMs : NEVER_MS;
  const options: Pool.Options = {
    pipelining: 1,
    // The mesh owns every timeout but connect (DESIGN.md "Envoy order of policies").
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: idle,
    keepAliveMaxTimeout: idle,
    connect:
      settings.maxConnectionDurationMs > 0
        ? withConnectionAge(connector(settings, check), settings.maxConnectionDurationMs)
        : connector(settings, check),
  };
  if (Number.isFinite(settings.maxConnections)) options.connections = settings.maxConnections;
  if (limit > 1) options.maxRequestsPerClient = limit - 1;
  const pool = new Pool(origin, options);
  return {
    pool,
    ready: null,
    check,
    settings,
    resetEach: limit === 1,
    retire: () => {
      pool.close().catch(() => {
        // Closing waits for in-flight requests; their own errors reach their callers.
      });
    },
    destroy: () => pool.destroy().catch(() => undefined),
  };
}

function sendableHeaders(headers: TransportRequest['headers']): Record<string, string | string[]> {
  let hop = false;
  for (const name in headers) {
    if (HOP_BY_HOP_HEADERS.has(name)) {
      hop = true;
      break;
    }
  }
  if (!hop) return headers as Record<string, string | string[]>;
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (!HOP_BY_HOP_HEADERS.has(name)) out[name] = headers[name] as string | string[];
  }
  return out;
}

/**
 * The fast transport: an undici `Pool` per `poolKey` with `connections` =
 * `tcp.maxConnections`, pipelining 1, `http.maxRequestsPerConnection` and the idle
 * timeout as keep-alive timeout; no header or body timeouts, no redirects, no
 * decompression. undici does not say whether a reset hit before the request was
 * written, so a reset on a connected socket reports `beforeRequestSent: false`
 * (the conservative answer: `reset-before-request` will not retry it).
 */
export function createUndiciTransport(): Transport {
  const pools = new PoolRegistry<UndiciPool>((settings, req) => createPool(req.url.origin, settings));

  async function request(req: TransportRequest): Promise<TransportResponse> {
    if (pools.closed) throw new TransportError('connect-failure', 'transport is closed', true);
    const signal = req.signal;
    if (signal?.aborted === true) {
      throw new TransportError('aborted', 'request aborted before it was sent', true);
    }
    const entry = pools.get(req);
    if (req.tls !== null) entry.check.verifyPeer = req.tls.verifyPeer;
    const options: Dispatcher.RequestOptions = {
      origin: req.url.origin,
      path: req.url.pathname + req.url.search,
      method: req.method,
      headers: sendableHeaders(req.headers),
      body: req.body,
    };
    if (signal !== null) options.signal = signal;
    if (entry.resetEach) options.reset = true;
    const mapError = (err: unknown): TransportError =>
      toTransportError(err, { aborted: signal?.aborted === true, beforeRequestSent: false });
    const ready = req.onPoolReady ?? null;
    let dispatcher: Dispatcher = entry.pool;
    if (ready !== null) {
      (options as ReadyOptions)[POOL_READY] = ready;
      dispatcher = entry.ready ??= entry.pool.compose(poolReadyInterceptor);
    }
    let res: Dispatcher.ResponseData;
    try {
      // undici notices an abort only once the request has a connection (api-request.js
      // onConnect), so a deadline during a slow connect must not wait for it.
      res = await raceSignal(dispatcher.request(options), signal, dropLate);
    } catch (err) {
      throw mapError(err);
    }
    // No `connection`: undici hands a request's handler no socket (client-h1.js writeH1
    // calls `onConnect(abort)` without context; only an upgrade gets one), and its
    // `undici:client:sendHeaders` channel would publish for every undici request in the
    // process. The `%UPSTREAM_*%` TLS operators and `%UPSTREAM_CONNECTION_ID%` print `-`/0.
    return {
      status: res.statusCode,
      headers: headersFromUndici(res.headers),
      body: mappedBody(res.body, mapError),
    };
  }

  return Object.freeze({
    name: 'undici',
    signalsPoolReady: true,
    request,
    upgrade: sendUpgrade,
    close: () => pools.close(),
  });
}
