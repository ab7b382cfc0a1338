/**
 * One finished request as the access log sees it: what Envoy's command operators read
 * (envoy `source/common/formatter/stream_info_formatter.cc`). Null = unset (`-`).
 */
export interface AccessLogEntry {
  /** Start of the request, epoch ms (`%START_TIME%`). */
  readonly startTime: number;
  /** `:method`. */
  readonly method: string;
  /** `:path` as received, query included. */
  readonly path: string;
  /** `:authority` (Host). */
  readonly authority: string | null;
  /** `:scheme`. */
  readonly scheme?: string | null;
  /** `%PROTOCOL%`: `HTTP/1.1`, `HTTP/2`. */
  readonly protocol: string | null;
  /** 0 when no response was sent. */
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  /** `%RESPONSE_CODE_DETAILS%`, e.g. `via_upstream`, `upstream_reset_before_response_started{overflow}`. */
  readonly responseCodeDetails: string | null;
  readonly connectionTerminationDetails: string | null;
  readonly upstreamTransportFailureReason: string | null;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Total duration in ms (`%DURATION%`). */
  readonly durationMs: number;
  /** Request headers, lower-case keys. */
  readonly requestHeaders: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Response headers, lower-case keys (`%RESP(...)%`, e.g. `x-envoy-upstream-service-time`). */
  readonly responseHeaders: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** `ip:port` of the upstream endpoint. */
  readonly upstreamHost: string | null;
  /** `outbound|9080|v1|reviews.default.svc.cluster.local` / `inbound|9080||`. */
  readonly upstreamCluster: string | null;
  readonly upstreamLocalAddress: string | null;
  readonly downstreamLocalAddress: string | null;
  readonly downstreamRemoteAddress: string | null;
  readonly requestedServerName: string | null;
  /** `%ROUTE_NAME%`: the matched route's name, `default` for Istio's default route. */
  readonly routeName: string | null;
  /** `%UPSTREAM_REQUEST_ATTEMPT_COUNT%`. */
  readonly attempts?: number;
}
