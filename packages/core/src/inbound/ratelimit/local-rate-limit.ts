import type { RateLimitPlan, RateLimitPolicyPlan } from '../../compile/inbound-types.js';
import type { RateLimitPosition } from '../../compile/inbound-filter-chain.js';
import type {
  LocalRateLimitConfig,
  LocalRateLimitDescriptor,
  TokenBucket,
} from '../../config/schema/local-rate-limit.js';
import type { Clock } from '../../runtime/clock.js';
import type { Random } from '../../runtime/random.js';
import type { InboundRequest } from '../engine-types.js';
import { applyHeadersToAdd } from './headers-to-add.js';
import { ConnectionBuckets, connectionOf } from './per-connection.js';
import {
  buildDescriptors,
  onPort,
  policyEntries,
  type DescriptorRequest,
  type RateLimitDescriptor,
} from './descriptors.js';
import type { RateLimitEntry } from '../../config/schema/rate-limit-actions.js';
import { consume, createBucket, remainingTokens, type BucketState } from './token-bucket.js';

export type RateLimitOutcome =
  | {
      readonly kind: 'pass';
      /** `request_headers_to_add_when_not_enforced`, when a bucket was empty but not enforced. */
      readonly requestHeaders: Readonly<Record<string, string>> | null;
      /** `x-ratelimit-*` response headers (DRAFT_VERSION_03). */
      readonly responseHeaders: Readonly<Record<string, string>> | null;
    }
  | {
      readonly kind: 'limited';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      /** `ns/name` of the EnvoyFilter that limited. */
      readonly filter: string;
    };

export interface LocalRateLimiter {
  /**
   * The filters at one place of the chain (compile/inbound-filter-chain.ts), in chain order.
   * `describe` gives the request as the route's `rate_limits` actions read it there, for a
   * filter with descriptors; null when the request has no route entry (no descriptors: the
   * default bucket alone).
   */
  check(
    req: InboundRequest,
    position: RateLimitPosition,
    describe?: () => DescriptorRequest | null,
  ): RateLimitOutcome;
  /** Whether any filter runs at `position` on some port: the engine skips the others. */
  has(position: RateLimitPosition): boolean;
}

const PASS: RateLimitOutcome = Object.freeze({ kind: 'pass', requestHeaders: null, responseHeaders: null });

interface Applied {
  readonly config: LocalRateLimitConfig;
  readonly filter: string;
  readonly position: RateLimitPosition;
}

/**
 * The `envoy.filters.http.local_ratelimit` filters of a plan (spec/security.md §5).
 * Per port: the HTTP_FILTER patches install the filter; an HTTP_ROUTE patch's
 * `typed_per_filter_config` (the last one) replaces their config on the inbound
 * route, as Envoy's per-route config does; without an HTTP_FILTER the route config
 * has no filter to configure and nothing is limited. A config's `descriptors` match the
 * descriptors the route's and virtual host's `rate_limits` build for its stage (VIRTUAL_HOST and
 * HTTP_ROUTE patches): each matched one takes a token from its own bucket, the slowest-filling
 * first, and the default bucket is drawn too when none matched or with
 * `always_consume_default_token_bucket` (envoy local_ratelimit_impl.cc requestAllowed).
 * `filter_enabled` / `filter_enforced` are drawn from `random`. With
 * `local_rate_limit_per_downstream_connection` each downstream connection has its own bucket
 * (see {@link ConnectionBuckets}) instead of the filter's shared one.
 */
export function createLocalRateLimiter(
  limits: readonly RateLimitPlan[],
  clock: Clock,
  random: Random,
  policies: readonly RateLimitPolicyPlan[] = [],
): LocalRateLimiter {
  const buckets = new Map<LocalRateLimitConfig, BucketState>();
  const descriptorBuckets = new DescriptorBuckets();
  // The `rate_limits` entries of a port, by vh_rate_limits option, worked out once.
  const entriesByPort = new Map<string, RateLimitEntry[]>();
  const entriesOn = (port: number, vh: LocalRateLimitConfig['vhRateLimits']): RateLimitEntry[] => {
    const k = `${port}|${vh}`;
    let e = entriesByPort.get(k);
    if (e === undefined) entriesByPort.set(k, (e = policyEntries(policies, port, vh)));
    return e;
  };
  const perConnection = new ConnectionBuckets();
  const byPort = new Map<number, readonly Applied[]>();
  const name = (p: RateLimitPlan) => `${p.envoyFilter.namespace}/${p.envoyFilter.name}`;

  const configsFor = (port: number): readonly Applied[] => {
    let out = byPort.get(port);
    if (out !== undefined) return out;
    const filters = limits.filter((p) => p.applyTo === 'HTTP_FILTER' && onPort(p, port));
    const route = limits.filter((p) => p.applyTo === 'HTTP_ROUTE' && onPort(p, port)).at(-1);
    out =
      filters.length === 0
        ? []
        : route !== undefined
          ? // The route's config configures the installed filter, wherever it sits.
            [
              {
                config: route.config,
                filter: name(route),
                position: filters[0]?.position ?? 'beforeCustom',
              },
            ]
          : filters.map((p) => ({
              config: p.config,
              filter: name(p),
              position: p.position ?? 'beforeCustom',
            }));
    byPort.set(port, out);
    return out;
  };

  const positions = new Set(limits.flatMap((p) => (p.position === null ? [] : [p.position])));
  const draw = (fraction: number) => fraction >= 1 || (fraction > 0 && random.next() < fraction);

  return {
    has(position) {
      return positions.has(position);
    },
    check(req, position, describe) {
      if (!positions.has(position)) return PASS;
      const applied = configsFor(req.port);
      let requestHeaders: Record<string, string> | null = null;
      let responseHeaders: Record<string, string> | null = null;
      for (const { config, filter, position: at } of applied) {
        if (at !== position) continue;
        const configured = config.tokenBucket;
        if ((configured === null && config.descriptors.length === 0) || !draw(config.filterEnabled)) continue;
        const now = clock.now();
        const described = config.descriptors.length === 0 || describe === undefined ? null : describe();
        const matched =
          described === null
            ? []
            : matching(
                slowestFirst(config),
                buildDescriptors(entriesOn(req.port, config.vhRateLimits), config.stage, described),
              );
        if (configured === null && matched.length === 0) continue;
        let ok = true;
        /** The bucket the x-ratelimit-* headers report: the first matched descriptor's, else the default. */
        let reported: { bucket: TokenBucket; state: BucketState } | null = null;
        for (const d of matched) {
          const state = descriptorBuckets.get(config, d, req, now);
          reported ??= { bucket: d.tokenBucket, state };
          if (!consume(state, d.tokenBucket, now)) {
            ok = false;
            reported = { bucket: d.tokenBucket, state };
            break;
          }
        }
        if (ok && configured !== null && (matched.length === 0 || config.alwaysConsumeDefaultTokenBucket)) {
          let bucket = configured;
          let state = buckets.get(config);
          if (config.localRateLimitPerDownstreamConnection) {
            // envoy local_ratelimit Filter::requestAllowed: the connection's limiter, not the filter's.
            ({ bucket, state } = perConnection.get(req, configured, now));
          } else if (state === undefined) {
            state = createBucket(now, bucket);
            buckets.set(config, state);
          }
          ok = consume(state, bucket, now);
          if (!ok || reported === null) reported = { bucket, state };
        }
        if (reported === null) continue;
        const { bucket, state } = reported;
        if (config.enableXRateLimitHeaders === 'DRAFT_VERSION_03') {
          responseHeaders ??= {};
          responseHeaders['x-ratelimit-limit'] = String(bucket.maxTokens);
          responseHeaders['x-ratelimit-remaining'] = String(remainingTokens(state, bucket, now));
          // No x-ratelimit-reset: Envoy's continuous bucket has no fill interval left to report
          // (AtomicTokenBucket::remainingFillInterval is empty).
        }
        if (ok) continue;
        if (!draw(config.filterEnforced)) {
          requestHeaders ??= {};
          const existing = (h: string) => {
            const v = req.headers[h];
            return v === undefined || typeof v === 'string' ? v : v.join(',');
          };
          applyHeadersToAdd(config.requestHeadersToAddWhenNotEnforced, existing, requestHeaders);
          continue;
        }
        const headers: Record<string, string> = { ...responseHeaders };
        applyHeadersToAdd(config.responseHeadersToAdd, () => undefined, headers);
        return { kind: 'limited', status: config.status, headers, filter };
      }
      return requestHeaders === null && responseHeaders === null
        ? PASS
        : { kind: 'pass', requestHeaders, responseHeaders };
    },
  };
}

const sameEntries = (a: LocalRateLimitDescriptor['entries'], b: RateLimitDescriptor['entries']): boolean =>
  a.length === b.length && a.every((e, i) => e.key === b[i]?.key && e.value === b[i]?.value);

const sorted = new WeakMap<LocalRateLimitConfig, readonly LocalRateLimitDescriptor[]>();

/**
 * A config's descriptors, the one whose bucket fills slowest first (local_ratelimit_impl.cc
 * requestAllowed sorts the matched ones by fill rate), sorted once per config.
 */
function slowestFirst(config: LocalRateLimitConfig): readonly LocalRateLimitDescriptor[] {
  let out = sorted.get(config);
  if (out === undefined) {
    const rate = (d: LocalRateLimitDescriptor) => d.tokenBucket.tokensPerFill / d.tokenBucket.fillIntervalMs;
    out = [...config.descriptors].sort((a, b) => rate(a) - rate(b));
    sorted.set(config, out);
  }
  return out;
}

/** The configured descriptors equal to one the request built (entries equal, in order), in their order. */
function matching(
  configured: readonly LocalRateLimitDescriptor[],
  built: readonly RateLimitDescriptor[],
): LocalRateLimitDescriptor[] {
  return configured.filter((d) => built.some((b) => sameEntries(d.entries, b.entries)));
}

/**
 * The descriptors' buckets: one per filter config and descriptor, or per downstream connection
 * too under `local_rate_limit_per_downstream_connection` (the connection's limiter has its own).
 */
class DescriptorBuckets {
  readonly #shared = new Map<LocalRateLimitConfig, Map<LocalRateLimitDescriptor, BucketState>>();
  readonly #perSocket = new WeakMap<object, Map<LocalRateLimitDescriptor, BucketState>>();
  readonly #perAddress = new Map<string, Map<LocalRateLimitDescriptor, BucketState>>();

  get(
    config: LocalRateLimitConfig,
    d: LocalRateLimitDescriptor,
    req: InboundRequest,
    now: number,
  ): BucketState {
    let states: Map<LocalRateLimitDescriptor, BucketState> | undefined;
    if (!config.localRateLimitPerDownstreamConnection) {
      states = this.#shared.get(config);
      if (states === undefined) {
        states = new Map<LocalRateLimitDescriptor, BucketState>();
        this.#shared.set(config, states);
      }
    } else {
      const conn = connectionOf(req);
      states = typeof conn === 'string' ? this.#perAddress.get(conn) : this.#perSocket.get(conn);
      if (states === undefined) {
        states = new Map<LocalRateLimitDescriptor, BucketState>();
        if (typeof conn === 'string') {
          if (this.#perAddress.size >= 10_000) this.#perAddress.clear();
          this.#perAddress.set(conn, states);
        } else this.#perSocket.set(conn, states);
      }
    }
    let state = states.get(d);
    if (state === undefined) states.set(d, (state = createBucket(now, d.tokenBucket)));
    return state;
  }
}
