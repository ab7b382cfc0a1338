import type { GlobalRateLimitPlan, InboundPlan } from '../../compile/inbound-types.js';
import type { RateLimitPosition } from '../../compile/inbound-filter-chain.js';
import type { RateLimitEntry } from '../../config/schema/rate-limit-actions.js';
import type { Clock } from '../../runtime/clock.js';
import type { ClusterCaller, ClusterEndpoint } from '../../outbound/cluster-call.js';
import type { ExtAuthzGrpcClients } from '../authz/ext-authz-grpc.js';
import type { ExtAuthzTracer } from '../authz/ext-authz-span.js';
import { grpcUnaryCall } from '../grpc-unary-call.js';
import { applyHeadersToAdd } from './headers-to-add.js';
import {
  buildDescriptors,
  onPort,
  policyEntries,
  type DescriptorRequest,
  type RateLimitDescriptor,
} from './descriptors.js';
import {
  decodeRateLimitResponse,
  encodeRateLimitRequest,
  type RateLimitResponse,
  type RlsDescriptorStatus,
  type RlsUnit,
} from './rls-messages.js';

const SHOULD_RATE_LIMIT = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';
/** Envoy's gRPC async client span name: `async <service>.<method> egress`. */
const SPAN_NAME = 'async envoy.service.ratelimit.v3.RateLimitService.ShouldRateLimit egress';

/** `ratelimit_status`: `ok` or `over_limit` (envoy filters/common/ratelimit ratelimit_impl.cc onSuccess). */
const spanTags = (res: RateLimitResponse) => ({
  ratelimit_status: res.overallCode === 'OVER_LIMIT' ? 'over_limit' : 'ok',
});

/** What one global rate limit filter decided. */
export type GlobalOutcome =
  | {
      readonly kind: 'pass';
      /** The service's `request_headers_to_add`, for the application. */
      readonly requestHeaders: Readonly<Record<string, string>> | null;
      /** The service's `response_headers_to_add` and `x-ratelimit-*`, for the response. */
      readonly responseHeaders: Readonly<Record<string, string>> | null;
    }
  | {
      readonly kind: 'limited';
      readonly status: number;
      readonly body: string;
      readonly headers: Readonly<Record<string, string>>;
      /** `RL` over the limit, `RLSE` a service error with `failure_mode_deny`. */
      readonly flag: 'RL' | 'RLSE';
      readonly responseCodeDetails: 'request_rate_limited' | 'rate_limiter_error';
      readonly detail: string;
      /** `ns/name` of the EnvoyFilter. */
      readonly filter: string;
    };

export interface GlobalRateLimiter {
  /** Whether a filter runs at `position` on some port. */
  has(position: RateLimitPosition): boolean;
  /**
   * The filters at `position` for `req`, in chain order; null when none sends a descriptor
   * (no call is made, nothing waits).
   */
  check(
    req: DescriptorRequest & { readonly port: number },
    position: RateLimitPosition,
  ): Promise<GlobalOutcome> | null;
}

/** Answers a filter's call instead of its service (`meshlet explain`): the response, or why it failed. */
export type RateLimitAnswer = (
  filter: GlobalRateLimitPlan,
  descriptors: readonly RateLimitDescriptor[],
) => Promise<RateLimitResponse | string>;

export interface GlobalRateLimitDeps {
  readonly clock: Clock;
  /** Answers in place of the service; absent: the service is called. */
  readonly answer?: RateLimitAnswer;
  /** Starts each call's span under the request's, as Envoy's gRPC async client does. */
  readonly tracer?: ExtAuthzTracer | null;
  /** The mesh's clusters, for a service named by its Istio cluster; null: straight to `host:port`. */
  readonly upstream: ClusterCaller | null;
  /** The gRPC channels (shared with ext_authz): one per endpoint and client TLS. */
  readonly channels: ExtAuthzGrpcClients;
}

const PASS: GlobalOutcome = Object.freeze({ kind: 'pass', requestHeaders: null, responseHeaders: null });

const UNIT_SECONDS: Readonly<Record<RlsUnit, number>> = {
  UNKNOWN: 0,
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86_400,
  WEEK: 604_800,
  MONTH: 2_592_000,
  YEAR: 31_536_000,
};

/**
 * DRAFT_VERSION_03 headers (envoy ratelimit_headers.cc XRateLimitHeaderUtils::create): the
 * status with the least remaining sets `x-ratelimit-remaining` and `-reset` (whole seconds),
 * and `x-ratelimit-limit` is its limit followed by each limit's quota policy `, <n>;w=<s>`.
 */
function xRateLimitHeaders(statuses: readonly RlsDescriptorStatus[], into: Record<string, string>): void {
  let min: RlsDescriptorStatus | null = null;
  let policy = '';
  for (const s of statuses) {
    if (s.currentLimit === null) continue;
    if (min === null || s.limitRemaining < min.limitRemaining) min = s;
    const window = UNIT_SECONDS[s.currentLimit.unit];
    if (window > 0)
      policy += `, ${s.currentLimit.requestsPerUnit};w=${window}${s.currentLimit.name === '' ? '' : `;name="${s.currentLimit.name}"`}`;
  }
  if (min === null || min.currentLimit === null) return;
  into['x-ratelimit-limit'] = `${min.currentLimit.requestsPerUnit}${policy}`;
  into['x-ratelimit-remaining'] = String(min.limitRemaining);
  into['x-ratelimit-reset'] = String(Math.floor((min.durationUntilResetMs ?? 0) / 1000));
}

function headerMap(list: readonly { key: string; value: string }[]): Record<string, string> | null {
  if (list.length === 0) return null;
  const out: Record<string, string> = {};
  for (const h of list) {
    const k = h.key.toLowerCase();
    out[k] = out[k] === undefined ? h.value : `${out[k]},${h.value}`;
  }
  return out;
}

/**
 * The `envoy.filters.http.ratelimit` filters of a plan (spec/security.md §5 "Global"; envoy
 * source/extensions/filters/http/ratelimit/ratelimit.cc). A filter sends the descriptors of
 * its stage to its service's ShouldRateLimit and waits (its `timeout`, 20 ms by default).
 * OVER_LIMIT is a local reply with `rate_limited_status` (429), the service's raw body and
 * headers and `x-envoy-ratelimited: true`, flag `RL`; an error (a failed call, a timeout, an
 * unknown cluster) lets the request through unless `failure_mode_deny`, then
 * `status_on_error` (500) with flag `RLSE`. `request_type` picks requests by
 * `x-envoy-internal: true` (internal) or its absence (external); the connection manager
 * leaves that header on no request (cleaned-headers.ts), so an `internal` filter never runs.
 */
export function createGlobalRateLimiter(plan: InboundPlan, deps: GlobalRateLimitDeps): GlobalRateLimiter {
  const filters = plan.globalRateLimits ?? [];
  const policies = plan.rateLimitPolicies ?? [];
  const positions = new Set(filters.map((f) => f.position));
  // What a port's requests need, worked out on its first request: the filters at each place
  // and the `rate_limits` entries (RateLimitPerRoute is not read: OVERRIDE, Envoy's default).
  const filtersAt = new Map<string, readonly GlobalRateLimitPlan[]>();
  const entriesOn = new Map<number, RateLimitEntry[]>();
  const name = (f: GlobalRateLimitPlan) => `${f.envoyFilter.namespace}/${f.envoyFilter.name}`;

  const call = (f: GlobalRateLimitPlan, message: Buffer): Promise<RateLimitResponse | string> => {
    const s = f.service;
    if (s.kind === 'unknown')
      return Promise.resolve(`cluster ${s.clusterName} is not a cluster of this proxy`);
    const first = s.kind === 'static' ? s.endpoints[0] : undefined;
    const host = s.kind === 'mesh' ? s.host : (first?.address ?? '');
    const port = s.kind === 'mesh' ? s.port : (first?.port ?? 0);
    const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return grpcUnaryCall<RateLimitResponse, RateLimitResponse | string>(
      {
        host,
        port,
        target,
        timeoutMs: f.config.timeoutMs,
        method: SHOULD_RATE_LIMIT,
        ...(s.kind === 'static' ? { cluster: s.clusterName } : {}),
        spanName: SPAN_NAME,
        decode: decodeRateLimitResponse,
        spanTags,
        // A mesh cluster's endpoint with its TLS (auto mTLS, DestinationRule). A patched
        // cluster is plaintext; its DNS name resolves as in the cluster, through the registry
        // when it names a known service (its endpoints stand for the ClusterIP), else by DNS.
        client: (endpoint: ClusterEndpoint | null) =>
          deps.channels.get(
            { target, authority: s.authority },
            endpoint === null || s.kind === 'mesh' ? endpoint : { address: endpoint.address, tls: null },
          ),
      },
      message,
      { upstream: deps.upstream, clock: deps.clock, tracer: deps.tracer ?? null },
      (res) => res,
      (why) => why,
    );
  };

  const one = async (
    f: GlobalRateLimitPlan,
    req: DescriptorRequest,
    entries: RateLimitEntry[],
  ): Promise<GlobalOutcome> => {
    const descriptors = buildDescriptors(entries, f.config.stage, req);
    if (descriptors.length === 0) return PASS;
    const res =
      deps.answer === undefined
        ? await call(f, encodeRateLimitRequest({ domain: f.config.domain, descriptors }))
        : await deps.answer(f, descriptors);
    const c = f.config;
    // Only a failed call is an error: an answer other than OVER_LIMIT, UNKNOWN included, is
    // OK (envoy filters/common/ratelimit/ratelimit_impl.cc onSuccess; UNKNOWN is only asserted).
    if (typeof res === 'string') {
      const why = res;
      if (!c.failureModeDeny) return PASS;
      return {
        kind: 'limited',
        status: c.statusOnError,
        body: '',
        headers: {},
        flag: 'RLSE',
        responseCodeDetails: 'rate_limiter_error',
        detail: `rate limit service for domain ${c.domain} failed (${why}) and failure_mode_deny is set`,
        filter: name(f),
      };
    }
    const headers: Record<string, string> = { ...headerMap(res.responseHeadersToAdd) };
    if (c.enableXRateLimitHeaders) xRateLimitHeaders(res.statuses, headers);
    if (res.overallCode === 'OVER_LIMIT') {
      if (!c.disableXEnvoyRateLimitedHeader) headers['x-envoy-ratelimited'] = 'true';
      applyHeadersToAdd(c.responseHeadersToAdd, () => undefined, headers);
      return {
        kind: 'limited',
        status: c.rateLimitedStatus,
        body: res.rawBody?.toString('utf8') ?? '',
        headers,
        flag: 'RL',
        responseCodeDetails: 'request_rate_limited',
        detail: `rate limit service for domain ${c.domain} answered OVER_LIMIT`,
        filter: name(f),
      };
    }
    return {
      kind: 'pass',
      requestHeaders: headerMap(res.requestHeadersToAdd),
      responseHeaders: Object.keys(headers).length === 0 ? null : headers,
    };
  };

  return {
    has: (position) => positions.has(position),
    check(req, position) {
      // ratelimit.cc initiateCall: HeaderUtility::isEnvoyInternalRequest, `x-envoy-internal: true`.
      const internal = req.headers['x-envoy-internal'] === 'true';
      const at = `${position}|${req.port}`;
      let placed = filtersAt.get(at);
      if (placed === undefined) {
        placed = filters.filter((f) => f.position === position && onPort(f, req.port));
        filtersAt.set(at, placed);
      }
      const here = placed.filter(
        (f) => f.config.requestType === 'both' || (f.config.requestType === 'internal') === internal,
      );
      if (here.length === 0) return null;
      let entries = entriesOn.get(req.port);
      if (entries === undefined) {
        entries = policyEntries(policies, req.port, 'OVERRIDE');
        entriesOn.set(req.port, entries);
      }
      if (entries.length === 0) return null;
      return (async () => {
        let requestHeaders: Record<string, string> | null = null;
        let responseHeaders: Record<string, string> | null = null;
        for (const f of here) {
          const out: GlobalOutcome = await one(f, req, entries);
          if (out.kind === 'limited') return out;
          if (out.requestHeaders !== null)
            requestHeaders = Object.assign(requestHeaders ?? {}, out.requestHeaders);
          if (out.responseHeaders !== null)
            responseHeaders = Object.assign(responseHeaders ?? {}, out.responseHeaders);
        }
        return requestHeaders === null && responseHeaders === null
          ? PASS
          : { kind: 'pass', requestHeaders, responseHeaders };
      })();
    },
  };
}
