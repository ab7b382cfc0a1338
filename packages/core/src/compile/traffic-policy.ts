import type { PortTrafficPolicyIn, TrafficPolicyIn } from './spec-types.js';
import { toMs } from './duration.js';

/** Envoy's "unlimited" (Istio writes MaxUint32 for unset connection-pool limits). */
export const UNLIMITED = 4_294_967_295;

type Raw = Readonly<Record<string, unknown>>;

/** An extra `Set-Cookie` attribute of `httpCookie.attributes`; `value` null for a bare name (`Secure`). */
export interface CookieAttribute {
  readonly name: string;
  readonly value: string | null;
}

export interface ConsistentHash {
  readonly key:
    | { readonly kind: 'header'; readonly name: string }
    | {
        readonly kind: 'cookie';
        readonly name: string;
        readonly path: string | null;
        /** Set: a request without the cookie is issued one (null: never issued). */
        readonly ttlMs: number | null;
        readonly attributes: readonly CookieAttribute[];
      }
    | { readonly kind: 'sourceIp' }
    | { readonly kind: 'queryParameter'; readonly name: string };
  readonly ring:
    | { readonly kind: 'ringHash'; readonly minimumRingSize: number }
    | { readonly kind: 'maglev'; readonly tableSize: number };
}

/**
 * Envoy's `slow_start_config` as istio cluster_traffic_policy.go `setWarmup` /
 * `setSlowStartConfig` write it from `warmup` / `warmupDurationSecs`.
 */
export interface SlowStartPolicy {
  /** `slow_start_window`, > 0. */
  readonly windowMs: number;
  /** Default 1 (a linear ramp). */
  readonly aggression: number;
  /** `min_weight_percent`, 0..100, default 10. */
  readonly minWeightPercent: number;
}

/** `trafficPolicy.loadBalancer` with Istio's default `LEAST_REQUEST`. */
export interface LoadBalancerPolicy {
  /** null when `consistentHash` is used. */
  readonly simple: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH' | 'LEAST_CONN' | null;
  readonly consistentHash: ConsistentHash | null;
  readonly localityLbSetting: Raw | null;
  /** `zoneAwareLbSetting` (Istio 1.31), as written; null when unset. */
  readonly zoneAwareLbSetting: Raw | null;
  /** Slow start; null unless set and the policy is LEAST_REQUEST/LEAST_CONN or ROUND_ROBIN. */
  readonly warmup: SlowStartPolicy | null;
}

/** `trafficPolicy.connectionPool`; Istio treats 0 as unset. */
export interface ConnectionPoolPolicy {
  readonly tcp: {
    readonly maxConnections: number;
    readonly connectTimeoutMs: number;
    /** 0 = disabled (`idleTimeout: 0s`). */
    readonly idleTimeoutMs: number;
    readonly maxConnectionDurationMs: number | null;
    /** `tcpKeepalive.time`, ms; null when unset (interval and probes are not applied). */
    readonly keepaliveTimeMs: number | null;
  };
  readonly http: {
    readonly http1MaxPendingRequests: number;
    readonly http2MaxRequests: number;
    /** 0 = unlimited; 1 = no keep-alive. */
    readonly maxRequestsPerConnection: number;
    readonly maxRetries: number;
    readonly idleTimeoutMs: number;
    readonly h2UpgradePolicy: string;
    readonly maxConcurrentStreams: number;
    readonly useClientProtocol: boolean;
  };
}

/** `trafficPolicy.outlierDetection` with defaults (present only when the block exists). */
export interface OutlierDetectionPolicy {
  /** 0 = disabled. */
  readonly consecutive5xxErrors: number;
  /** 0 = off. */
  readonly consecutiveGatewayErrors: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly consecutiveLocalOriginFailures: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly minHealthPercent: number;
  /**
   * `outlierDetectionHttpErrorCodes`: only these response codes count as errors; null
   * (unset or empty) = Envoy's default, every 5xx.
   */
  readonly httpErrorCodes: readonly number[] | null;
}

export interface TlsPolicy {
  readonly mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  readonly sni: string | null;
  readonly subjectAltNames: readonly string[];
  /** SIMPLE/MUTUAL: neither the chain nor a SAN of the server is checked. */
  readonly insecureSkipVerify: boolean;
  /** SIMPLE/MUTUAL: a PEM file of CRLs for the chain check; null when unset. */
  readonly caCrl: string | null;
  /** A Kubernetes secret meshlet cannot read (reported at load); null when unset. */
  readonly credentialName: string | null;
  readonly settings: Raw;
}

/** The effective policy of one cluster (spec/traffic.md §2). */
export interface ClusterPolicy {
  readonly loadBalancer: LoadBalancerPolicy;
  readonly connectionPool: ConnectionPoolPolicy;
  readonly outlierDetection: OutlierDetectionPolicy | null;
  /** null = Istio auto mTLS (ISTIO_MUTUAL to mesh workloads, plaintext otherwise). */
  readonly tls: TlsPolicy | null;
  readonly tunnel: Raw | null;
  readonly proxyProtocol: Raw | null;
  readonly retryBudget: { readonly percent: number; readonly minRetryConcurrency: number } | null;
}

interface Components {
  loadBalancer?: Raw | undefined;
  connectionPool?: Raw | undefined;
  outlierDetection?: Raw | undefined;
  tls?: Raw | undefined;
  tunnel?: Raw | undefined;
  proxyProtocol?: Raw | undefined;
  retryBudget?: Raw | undefined;
}

function portEntry(
  list: readonly PortTrafficPolicyIn[] | undefined,
  port: number,
): PortTrafficPolicyIn | undefined {
  return list?.find((p) => p.port?.number === port);
}

/**
 * istio `MergeTrafficPolicy`: a `portLevelSettings` entry for the port replaces
 * the top-level loadBalancer/connectionPool/outlierDetection/tls (no
 * inheritance); then each component the subset sets replaces the inherited one;
 * then the subset's own port-level entry replaces those four again.
 */
export function mergePolicy(
  top: TrafficPolicyIn | undefined,
  subset: TrafficPolicyIn | undefined,
  port: number,
): Components {
  const out: Components = {
    loadBalancer: top?.loadBalancer,
    connectionPool: top?.connectionPool,
    outlierDetection: top?.outlierDetection,
    tls: top?.tls,
    tunnel: top?.tunnel,
    proxyProtocol: top?.proxyProtocol,
    retryBudget: top?.retryBudget,
  };
  const applyPort = (p: PortTrafficPolicyIn | undefined): void => {
    if (p === undefined) return;
    const topPort = portEntry(top?.portLevelSettings, port);
    out.loadBalancer = p.loadBalancer;
    out.connectionPool = p.connectionPool;
    out.outlierDetection = p.outlierDetection;
    out.tls = p.tls;
    // istio util.go GetPortLevelTrafficPolicy -> shadowCopyPortTrafficPolicy keeps only the four
    // fields above: a matching top-level entry drops the top's proxyProtocol/retryBudget; a
    // matching subset entry drops the subset's, and MergeTrafficPolicy keeps what the
    // (port-resolved) top-level policy gave. (tunnel is read from the raw DR:
    // tunnelingconfig/apply.go.)
    const above = p === topPort ? undefined : topPort === undefined ? top : undefined;
    out.proxyProtocol = above?.proxyProtocol;
    out.retryBudget = above?.retryBudget;
  };
  applyPort(portEntry(top?.portLevelSettings, port));
  if (subset !== undefined) {
    for (const k of [
      'loadBalancer',
      'connectionPool',
      'outlierDetection',
      'tls',
      'tunnel',
      'proxyProtocol',
      'retryBudget',
    ] as const) {
      if (subset[k] !== undefined) out[k] = subset[k];
    }
    applyPort(portEntry(subset.portLevelSettings, port));
  }
  return out;
}

function obj(v: unknown): Raw | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `httpCookie.attributes`: `{ name, value? }` entries (validated at load). */
function cookieAttributes(raw: unknown): readonly CookieAttribute[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((a: unknown) => {
    const e = obj(a);
    const name = e === undefined ? undefined : text(e['name']);
    if (e === undefined || name === undefined) return [];
    const value = text(e['value']);
    return [{ name, value: value === undefined || value === '' ? null : value }];
  });
}

/** Istio: 0 (or unset) means "use the default". */
function limit(v: unknown, dflt: number): number {
  const n = num(v);
  return n === undefined || n === 0 ? dflt : n;
}

function loadBalancer(lb: Raw | undefined): LoadBalancerPolicy {
  const ch = obj(lb?.['consistentHash']);
  let consistentHash: ConsistentHash | null = null;
  if (ch !== undefined) {
    const cookie = obj(ch['httpCookie']);
    const key: ConsistentHash['key'] =
      text(ch['httpHeaderName']) !== undefined
        ? { kind: 'header', name: (ch['httpHeaderName'] as string).toLowerCase() }
        : cookie !== undefined
          ? {
              kind: 'cookie',
              name: text(cookie['name']) ?? '',
              path: text(cookie['path']) ?? null,
              ttlMs: toMs(text(cookie['ttl'])),
              attributes: cookieAttributes(cookie['attributes']),
            }
          : ch['useSourceIp'] === true
            ? { kind: 'sourceIp' }
            : { kind: 'queryParameter', name: text(ch['httpQueryParameterName']) ?? '' };
    const maglev = obj(ch['maglev']);
    const ringHash = obj(ch['ringHash']);
    const ring: ConsistentHash['ring'] =
      maglev !== undefined
        ? { kind: 'maglev', tableSize: limit(maglev['tableSize'], 65537) }
        : {
            kind: 'ringHash',
            minimumRingSize: limit(ringHash?.['minimumRingSize'] ?? ch['minimumRingSize'], 1024),
          };
    consistentHash = { key, ring };
  }
  const raw = text(lb?.['simple']);
  const simple: LoadBalancerPolicy['simple'] =
    consistentHash !== null
      ? null
      : raw === 'ROUND_ROBIN' || raw === 'RANDOM' || raw === 'PASSTHROUGH' || raw === 'LEAST_CONN'
        ? raw
        : 'LEAST_REQUEST';
  return {
    simple,
    consistentHash,
    localityLbSetting: obj(lb?.['localityLbSetting']) ?? null,
    zoneAwareLbSetting: obj(lb?.['zoneAwareLbSetting']) ?? null,
    warmup: simple === 'RANDOM' || simple === 'PASSTHROUGH' || simple === null ? null : slowStart(lb),
  };
}

/**
 * istio cluster_traffic_policy.go: only `applyRoundRobinLoadBalancer` and
 * `applyLeastRequestLoadBalancer` write `slow_start_config` (consistent hashing then replaces
 * the policy with RING_HASH/MAGLEV, which ignore it). `warmup` is tried before the
 * deprecated `warmupDurationSecs`, whose config keeps Envoy's defaults.
 */
function slowStart(lb: Raw | undefined): SlowStartPolicy | null {
  const warmup = obj(lb?.['warmup']);
  const windowMs = toMs(text(warmup !== undefined ? warmup['duration'] : lb?.['warmupDurationSecs']));
  // Envoy isSlowStartEnabled: a zero window is no slow start.
  if (windowMs === null || windowMs <= 0) return null;
  const aggression = num(warmup?.['aggression']);
  return {
    windowMs,
    // Envoy falls back to 1.0 for an aggression <= 0 (rejected by validation anyway).
    aggression: aggression !== undefined && aggression > 0 ? aggression : 1,
    minWeightPercent: num(warmup?.['minimumPercent']) ?? 10,
  };
}

function connectionPool(cp: Raw | undefined): ConnectionPoolPolicy {
  const tcp = obj(cp?.['tcp']);
  const http = obj(cp?.['http']);
  const idle = toMs(text(tcp?.['idleTimeout']));
  return {
    tcp: {
      maxConnections: limit(tcp?.['maxConnections'], UNLIMITED),
      connectTimeoutMs: toMs(text(tcp?.['connectTimeout'])) ?? 10_000,
      idleTimeoutMs: idle ?? 3_600_000,
      maxConnectionDurationMs: toMs(text(tcp?.['maxConnectionDuration'])),
      keepaliveTimeMs: toMs(text(obj(tcp?.['tcpKeepalive'])?.['time'])),
    },
    http: {
      http1MaxPendingRequests: limit(http?.['http1MaxPendingRequests'], UNLIMITED),
      http2MaxRequests: limit(http?.['http2MaxRequests'], UNLIMITED),
      maxRequestsPerConnection: num(http?.['maxRequestsPerConnection']) ?? 0,
      maxRetries: limit(http?.['maxRetries'], UNLIMITED),
      // istio cluster_traffic_policy.go applyConnectionPool: `tcp.idleTimeout` is the HTTP
      // connections' idle timeout too when `http.idleTimeout` is unset.
      idleTimeoutMs: toMs(text(http?.['idleTimeout'])) ?? idle ?? 3_600_000,
      h2UpgradePolicy: text(http?.['h2UpgradePolicy']) ?? 'DEFAULT',
      maxConcurrentStreams: limit(http?.['maxConcurrentStreams'], 2_147_483_647),
      useClientProtocol: http?.['useClientProtocol'] === true,
    },
  };
}

function outlierDetection(od: Raw | undefined): OutlierDetectionPolicy | null {
  if (od === undefined) return null;
  const base = toMs(text(od['baseEjectionTime'])) ?? 30_000;
  const maxPct = num(od['maxEjectionPercent']);
  const codes = od['outlierDetectionHttpErrorCodes'];
  const localOrigin = num(od['consecutiveLocalOriginFailures']);
  return {
    consecutive5xxErrors: num(od['consecutive5xxErrors']) ?? 5,
    consecutiveGatewayErrors: num(od['consecutiveGatewayErrors']) ?? 0,
    splitExternalLocalOriginErrors: od['splitExternalLocalOriginErrors'] === true,
    // istio cluster_traffic_policy.go applyOutlierDetection writes it only when > 0; Envoy's default is 5.
    consecutiveLocalOriginFailures: localOrigin !== undefined && localOrigin > 0 ? localOrigin : 5,
    intervalMs: toMs(text(od['interval'])) ?? 10_000,
    baseEjectionTimeMs: base,
    // Envoy caps ejections at max_ejection_time (300s) or the base time if that is larger.
    maxEjectionTimeMs: Math.max(300_000, base),
    // istio cluster_traffic_policy.go only sets it when > 0; Envoy's default is 10.
    maxEjectionPercent: maxPct !== undefined && maxPct > 0 ? maxPct : 10,
    minHealthPercent: num(od['minHealthPercent']) ?? 0,
    // istio cluster_traffic_policy.go builds the outlier error matcher only for a non-empty list.
    httpErrorCodes:
      Array.isArray(codes) && codes.length > 0
        ? codes.filter((c): c is number => typeof c === 'number')
        : null,
  };
}

function tls(t: Raw | undefined): TlsPolicy | null {
  if (t === undefined) return null;
  const mode = text(t['mode']);
  return {
    mode: mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'ISTIO_MUTUAL' ? mode : 'DISABLE',
    sni: text(t['sni']) ?? null,
    subjectAltNames: Array.isArray(t['subjectAltNames']) ? (t['subjectAltNames'] as string[]) : [],
    insecureSkipVerify: t['insecureSkipVerify'] === true,
    caCrl: text(t['caCrl']) ?? null,
    credentialName: text(t['credentialName']) ?? null,
    settings: t,
  };
}

function retryBudget(b: Raw | undefined): ClusterPolicy['retryBudget'] {
  if (b === undefined) return null;
  const min = num(b['minRetryConcurrency']);
  return {
    percent: num(b['percent']) ?? 20,
    // istio cluster_traffic_policy.go applyRetryBudget: 3 unless MinRetryConcurrency > 0.
    minRetryConcurrency: min !== undefined && min > 0 ? min : 3,
  };
}

/** Fills Istio's defaults into merged components and converts durations to ms. */
export function normalizePolicy(c: Components): ClusterPolicy {
  return {
    loadBalancer: loadBalancer(c.loadBalancer),
    connectionPool: connectionPool(c.connectionPool),
    outlierDetection: outlierDetection(c.outlierDetection),
    tls: tls(c.tls),
    tunnel: c.tunnel ?? null,
    proxyProtocol: c.proxyProtocol ?? null,
    retryBudget: retryBudget(c.retryBudget),
  };
}
