import type { Duplex, Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';

/** Client TLS for one upstream connection (DestinationRule `tls`, or Istio auto mTLS). */
export interface TransportTls {
  /** PEM. */
  readonly ca: string | Buffer | null;
  readonly cert: string | Buffer | null;
  readonly key: string | Buffer | null;
  readonly servername: string | null;
  /**
   * Called with the server's leaf certificate after the handshake verified the chain.
   * Returns an error message to refuse the connection (SPIFFE identity / SAN check), or null.
   */
  readonly verifyPeer: ((cert: PeerCertificate) => string | null) | null;
  /** Lowest TLS version offered. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** `ecdhCurve` as Node takes it: names joined with `:` (meshConfig `tlsDefaults.ecdhCurves`). */
  readonly ecdhCurve?: string;
  /** `ciphers` as Node takes it: OpenSSL names joined with `:` (meshConfig `tlsDefaults.cipherSuites`). */
  readonly ciphers?: string;
  /** ALPN protocols offered, in order (Istio mTLS: `istio-http/1.1`, `istio`, `http/1.1`). */
  readonly alpn?: readonly string[];
  /** DestinationRule `insecureSkipVerify`: the server's chain and name are not checked. */
  readonly insecureSkipVerify?: boolean;
  /** PEM CRLs (DestinationRule `caCrl`): a revoked certificate in the chain fails the handshake. */
  readonly crl?: string;
  /**
   * false: with no `verifyPeer`, the chain is checked but not the server's name (an
   * explicit DestinationRule `sni` without `subjectAltNames`). Default true.
   */
  readonly checkName?: boolean;
}

/** Told when an attempt gets its connection: Envoy's `onPoolReady`. */
export interface PoolReadyListener {
  poolReady(): void;
}

/**
 * An attempt's abort without an AbortSignal, for a transport that can listen to it:
 * the pipeline's per-try and route deadlines (and the caller's abort) end up here. On
 * Node 20 making an AbortSignal costs more than the rest of a timed try (its
 * `createAbortSignal` re-prototypes an EventTarget per instance), so a try whose
 * transport `listensToAbort` makes none.
 */
export interface TryAbort {
  readonly aborted: boolean;
  /** Why it aborted (a `DeadlineReason`, or the caller's signal's reason); undefined until then. */
  readonly reason: unknown;
  /**
   * `listener` is called once, when the attempt aborts; never when it already has, as an
   * AbortSignal's listeners (check `aborted` first).
   */
  onAbort(listener: () => void): void;
  offAbort(listener: () => void): void;
}

/** One attempt, addressed to one endpoint. */
export interface TransportRequest {
  /** `http(s)://<endpoint address>:<port><path+query>` — the endpoint, not the service name. */
  readonly url: URL;
  readonly method: string;
  /** Lower-case names; `host` carries the authority the upstream should see. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** Replayable bodies are Buffers; a stream is sent once and never retried. */
  readonly body: Buffer | Readable | null;
  /**
   * Aborts this attempt (per-try timeout, route timeout, caller abort). Null beside an
   * `abort` for a transport that `listensToAbort`.
   */
  readonly signal: AbortSignal | null;
  /**
   * The same abort as `signal`, without one (see {@link TryAbort}); absent or null when the
   * attempt has no deadline of the mesh's own (then `signal` is the caller's, or null).
   */
  readonly abort?: TryAbort | null;
  /** DestinationRule `connectionPool.tcp.connectTimeout` (ms). */
  readonly connectTimeoutMs: number;
  readonly tls: TransportTls | null;
  /**
   * The connection pool the attempt belongs to (`outbound|port|subset|host` + endpoint),
   * so a transport can keep one agent per cluster with the DestinationRule's limits.
   */
  readonly poolKey: string;
  /**
   * A transport that `signalsPoolReady` calls `poolReady()` once the attempt has a connected
   * (for TLS: handshaken) connection and its request is about to be written, new or reused.
   * Absent or null when nothing waits for it.
   */
  readonly onPoolReady?: PoolReadyListener | null;
  /** DestinationRule limits a transport applies to its agent for `poolKey`. */
  /**
   * The request's `Upgrade` token (`websocket`): the try asks the upstream to switch
   * protocols and, on a 101, hands over the connection (`TransportResponse.upgraded`).
   * Absent for every other request.
   */
  readonly upgrade?: string;
  readonly pool: {
    readonly maxConnections: number;
    readonly maxRequestsPerConnection: number;
    readonly idleTimeoutMs: number;
    /** `tcp.maxConnectionDuration`: no request goes on a connection this old; 0 or absent = none. */
    readonly maxConnectionDurationMs?: number;
    /** `tcp.tcpKeepalive.time`: idle time before the first TCP keep-alive probe; absent = the transport's. */
    readonly keepaliveTimeMs?: number;
  };
}

export interface TransportResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The body stream; the pipeline either hands it to the caller or drains it (retry). */
  readonly body: Readable;
  /**
   * The local `ip:port` of the connection that carried the request (`[ip]:port` for
   * IPv6), Envoy's `%UPSTREAM_LOCAL_ADDRESS%`; absent when the transport cannot tell.
   */
  readonly localAddress?: string | null;
  /**
   * The connection that carried the request (node's socket, a `TLSSocket` for TLS), kept
   * as is and read only when an access log asks (`%UPSTREAM_TLS_VERSION%`,
   * `%UPSTREAM_CONNECTION_ID%`...); absent when the transport cannot tell.
   */
  readonly connection?: object | null;
  /**
   * A 101 to an upgrade request: the connection, no longer HTTP, and what the upstream sent
   * on it past its response head. `body` is then empty.
   */
  readonly upgraded?: UpgradedConnection;
}

/** A connection an upstream switched to another protocol (a WebSocket's). */
export interface UpgradedConnection {
  readonly socket: Duplex;
  /** The bytes read past the 101's head. */
  readonly head: Buffer;
}

/**
 * How a transport failed, in Envoy's terms (spec/traffic.md §3, §4): a connect failure
 * (`UF`, retried under connect-failure/5xx/gateway-error), a reset before any response
 * (`UR`/`UC`, retried under reset/5xx/gateway-error), a TLS failure, or an abort we caused.
 */
export type TransportFailure =
  'connect-failure' | 'connect-timeout' | 'reset' | 'tls' | 'aborted' | 'protocol';

export class TransportError extends Error {
  readonly failure: TransportFailure;
  /** True when no byte of the request reached the upstream (`reset-before-request`). */
  readonly beforeRequestSent: boolean;
  /**
   * Envoy's `%UPSTREAM_TRANSPORT_FAILURE_REASON%` for it, e.g. `delayed connect error: 111`
   * for a refused connect; null when Envoy would report none.
   */
  readonly transportFailureReason: string | null;

  constructor(
    failure: TransportFailure,
    message: string,
    beforeRequestSent: boolean,
    options?: ErrorOptions & { readonly transportFailureReason?: string | null },
  ) {
    super(message, options);
    this.name = 'TransportError';
    this.failure = failure;
    this.beforeRequestSent = beforeRequestSent;
    this.transportFailureReason = options?.transportFailureReason ?? null;
  }
}

/**
 * What moves bytes. got is the default, undici the fast one, and the mock mesh plugs
 * in an in-memory one. A transport never retries, never times out on its own (beyond
 * `connectTimeoutMs`) and never follows redirects: the mesh owns all of that.
 * Failures reject with a `TransportError`.
 */
export interface Transport {
  readonly name: string;
  /**
   * True when the transport calls `TransportRequest.onPoolReady`: a per-try timeout then
   * starts when the connection is ready, as Envoy's does. Otherwise (a transport without
   * connections, such as the in-memory one) it starts with the attempt.
   */
  readonly signalsPoolReady?: boolean;
  /**
   * True when the transport listens to `TransportRequest.abort` whenever it is set: a
   * timed try then hands it no AbortSignal (`signal` is null beside `abort`), and makes
   * none. Otherwise every timed try makes one for `signal`.
   */
  readonly listensToAbort?: boolean;
  request(req: TransportRequest): Promise<TransportResponse>;
  /**
   * Sends a request carrying `upgrade` on a connection of its own, which a 101 hands over
   * (never back to a pool). Absent: the transport carries no upgrade.
   */
  upgrade?(req: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}
