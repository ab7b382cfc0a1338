import type { TransportRequest, TransportTls } from '../transport.js';

/** Istio writes 2^32−1 for unset limits; anything that large means no limit to a Node agent. */
const UNLIMITED = 2 ** 31;

/** The limits a transport applies to the agent or pool of one `poolKey`. */
export interface PoolSettings {
  /** `tcp.maxConnections`; Infinity when unset. */
  readonly maxConnections: number;
  /** `http.maxRequestsPerConnection`; 0 = unlimited, 1 = no keep-alive. */
  readonly maxRequestsPerConnection: number;
  /** `tcp.idleTimeout`/`http.idleTimeout`, ms; 0 = never close idle connections. */
  readonly idleTimeoutMs: number;
  /** `tcp.maxConnectionDuration`, ms; 0 = none. */
  readonly maxConnectionDurationMs: number;
  /** `tcp.tcpKeepalive.time`, ms; null = the transport's default. */
  readonly keepaliveTimeMs: number | null;
  readonly connectTimeoutMs: number;
  readonly tls: TransportTls | null;
}

export function poolSettings(req: TransportRequest): PoolSettings {
  const max = req.pool.maxConnections;
  return {
    maxConnections: max > 0 && max < UNLIMITED ? max : Infinity,
    maxRequestsPerConnection: Math.max(0, req.pool.maxRequestsPerConnection),
    idleTimeoutMs: Math.max(0, req.pool.idleTimeoutMs),
    maxConnectionDurationMs: Math.max(0, req.pool.maxConnectionDurationMs ?? 0),
    keepaliveTimeMs: req.pool.keepaliveTimeMs ?? null,
    connectTimeoutMs: req.connectTimeoutMs,
    tls: req.tls,
  };
}

/** Whether two client TLS settings build the same connections (verifyPeer aside). */
export function sameTls(a: TransportTls | null, b: TransportTls | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return (
    a.ca === b.ca &&
    a.cert === b.cert &&
    a.key === b.key &&
    a.servername === b.servername &&
    a.minVersion === b.minVersion &&
    a.ecdhCurve === b.ecdhCurve &&
    a.ciphers === b.ciphers &&
    (a.alpn ?? null) === (b.alpn ?? null) &&
    (a.insecureSkipVerify ?? false) === (b.insecureSkipVerify ?? false) &&
    (a.crl ?? null) === (b.crl ?? null) &&
    (a.checkName ?? true) === (b.checkName ?? true)
  );
}

/**
 * Whether a request can use the agent built for `current`. The pipeline builds a new
 * TransportTls per plan, not per request, so these are reference or short string compares.
 * `verifyPeer` is left out on purpose: it may be a new closure per request, so the pool
 * keeps the latest one and checks new connections with it (see tls-options.ts).
 */
export function sameSettings(current: PoolSettings, req: TransportRequest): boolean {
  const max = req.pool.maxConnections;
  return (
    current.maxConnections === (max > 0 && max < UNLIMITED ? max : Infinity) &&
    current.maxRequestsPerConnection === Math.max(0, req.pool.maxRequestsPerConnection) &&
    current.idleTimeoutMs === Math.max(0, req.pool.idleTimeoutMs) &&
    current.maxConnectionDurationMs === Math.max(0, req.pool.maxConnectionDurationMs ?? 0) &&
    current.keepaliveTimeMs === (req.pool.keepaliveTimeMs ?? null) &&
    current.connectTimeoutMs === req.connectTimeoutMs &&
    sameTls(current.tls, req.tls)
  );
}
