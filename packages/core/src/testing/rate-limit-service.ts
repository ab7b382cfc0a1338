import { MeshletError } from '../errors/meshlet-error.js';
import type {
  RateLimitResponse,
  RlsCode,
  RlsDescriptorStatus,
  RlsUnit,
} from '../inbound/ratelimit/rls-messages.js';
import { MAX_UINT32, parseConfigs, UNIT_SECONDS, type RateLimitConfigInput } from './rate-limit-config.js';
import { getLimit } from './rate-limit-lookup.js';

export type {
  RateLimitConfigInput,
  RateLimitDescriptorConfig,
  RateLimitServiceConfig,
} from './rate-limit-config.js';

/**
 * An in-memory envoyproxy/ratelimit: the rate limit service a global rate limit filter
 * calls, without a network or Redis. It answers as envoyproxy/ratelimit does with its Redis
 * fixed-window cache: the configuration semantics of src/config/config_impl.go (read as
 * gopkg.in/yaml.v2 reads it), the cache key of src/limiter/cache_key.go, the statuses of
 * src/limiter/base_limiter.go and the overall code of src/service/ratelimit.go (read at
 * envoyproxy/ratelimit f2fb1577, July 2026). Not modelled: the local over-limit cache,
 * response headers (RESPONSE_HEADERS_ENABLED), dynamic metadata, GLOBAL_QUOTA_MODE,
 * MERGE_DOMAIN_CONFIG and stats.
 */

/** A ShouldRateLimit request (envoy.service.ratelimit.v3.RateLimitRequest). */
export interface RateLimitCall {
  readonly domain: string;
  readonly descriptors: readonly {
    readonly entries: readonly { readonly key: string; readonly value: string }[];
    /** The descriptor's `limit` override: it replaces whatever the configuration holds. */
    readonly limit?: { requestsPerUnit: number; unit: RlsUnit } | null;
    /** The descriptor's own hits_addend (0 allowed: check without counting). */
    readonly hitsAddend?: number | null;
  }[];
  /** The request's hits_addend; 0 or none counts 1. */
  readonly hitsAddend?: number;
}

export interface InMemoryRateLimitService {
  /**
   * Answers as envoyproxy/ratelimit does, counting the hits; throws MeshletError
   * MESHLET_ERR_RATELIMIT_REQUEST for what it answers with a gRPC error (empty domain, no
   * descriptors, a limit override without a unit) or what no RateLimitRequest can carry.
   */
  shouldRateLimit(call: RateLimitCall): RateLimitResponse;
  /**
   * Replaces the configuration, as a reload does; throws MeshletError
   * MESHLET_ERR_RATELIMIT_CONFIG (message names the problem, like envoyproxy/ratelimit's) and
   * keeps the old one on an invalid config. The counters stay (they live in Redis).
   */
  setConfig(config: RateLimitConfigInput): void;
  /**
   * The fixed-window counters by cache key (`<domain>_<key>_<value>_..._<window start s>`),
   * those of windows still open at `now()`: a window that ended is dropped.
   */
  readonly counters: ReadonlyMap<string, number>;
}

export interface RateLimitServiceOptions {
  readonly config: RateLimitConfigInput;
  /** The clock, in ms since the epoch; the window and the reset use whole seconds of it. */
  readonly now: () => number;
  /** The service's SHADOW_MODE setting: an overall OVER_LIMIT is answered OK. */
  readonly globalShadowMode?: boolean;
}

// ---- the service (src/service/ratelimit.go, src/limiter, src/redis/fixed_cache_impl.go) ----

function requestError(message: string, details: Record<string, unknown> = {}): MeshletError {
  return new MeshletError('MESHLET_ERR_RATELIMIT_REQUEST', message, details);
}

const isUint = (n: unknown, max: number): boolean =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

/** What a RateLimitRequest cannot carry (hits_addend is a uint32, a descriptor's a uint64). */
function checkCall(call: RateLimitCall): void {
  // ratelimit.go shouldRateLimitWorker: these two are the service's own errors.
  if (call.domain === '') throw requestError('rate limit domain must not be empty');
  if (call.descriptors.length === 0) throw requestError('rate limit descriptor list must not be empty');
  if (call.hitsAddend !== undefined && !isUint(call.hitsAddend, MAX_UINT32))
    throw requestError(`hits_addend ${String(call.hitsAddend)} is not a uint32`);
  for (const [i, d] of call.descriptors.entries()) {
    if (d.hitsAddend != null && !isUint(d.hitsAddend, Number.MAX_SAFE_INTEGER))
      throw requestError(`descriptor ${i}: hits_addend ${String(d.hitsAddend)} is not a uint64`, {
        descriptor: i,
      });
    if (d.limit != null && !isUint(d.limit.requestsPerUnit, MAX_UINT32))
      throw requestError(
        `descriptor ${i}: limit requests_per_unit ${String(d.limit.requestsPerUnit)} is not a uint32`,
        { descriptor: i },
      );
  }
}

export function createRateLimitService(options: RateLimitServiceOptions): InMemoryRateLimitService {
  const { now } = options;
  const globalShadowMode = options.globalShadowMode ?? false;
  let domains = parseConfigs(options.config);
  const counters = new Map<string, number>();
  /** The end of each counter's window, in s. */
  const windowEnds = new Map<string, number>();
  let nextEnd = Number.POSITIVE_INFINITY;
  const nowSeconds = (): number => Math.floor(now() / 1000);

  /** Drops the counters of the windows that ended: with the clock going on, none is counted again. */
  const prune = (nowS: number): void => {
    if (nowS < nextEnd) return;
    nextEnd = Number.POSITIVE_INFINITY;
    for (const [key, end] of windowEnds) {
      if (end <= nowS) {
        windowEnds.delete(key);
        counters.delete(key);
      } else nextEnd = Math.min(nextEnd, end);
    }
  };

  const shouldRateLimit = (call: RateLimitCall): RateLimitResponse => {
    checkCall(call);
    // constructLimitsToCheck: unlimited limits and the limits others replace are not counted.
    const found = call.descriptors.map((d) => getLimit(domains, call.domain, d));
    for (const [i, f] of found.entries())
      // utils.UnitToDivider panics on UNKNOWN before anything is counted.
      if (f !== null && !f.limit.unlimited && !(f.limit.unit in UNIT_SECONDS))
        throw requestError(`descriptor ${i}: the limit override has unit ${f.limit.unit}`, { descriptor: i });
    const replacing = new Set(found.flatMap((f) => f?.limit.replaces ?? []));
    const nowS = nowSeconds();
    prune(nowS);

    let failedRateLimit = 0;
    let failedQuota = 0;
    let totalQuota = 0;
    const statuses = call.descriptors.map((d, i): RlsDescriptorStatus => {
      const f = found[i] ?? null;
      if (f?.limit.unlimited === true)
        return { code: 'OK', currentLimit: null, limitRemaining: MAX_UINT32, durationUntilResetMs: null };
      if (f === null || (f.limit.name !== '' && replacing.has(f.limit.name)))
        return { code: 'OK', currentLimit: null, limitRemaining: 0, durationUntilResetMs: null };
      const { limit } = f;
      // cache_key.go: `<prefix><domain>_` + `<key>_<value>_` per entry + the window's start in s.
      const divider = UNIT_SECONDS[limit.unit] ?? 1;
      const windowStart = Math.floor(nowS / divider) * divider;
      const values = d.entries.map((e, j) => `${e.key}_${f.shared.get(j) ?? e.value}_`);
      const key = `${call.domain}_${values.join('')}${windowStart}`;
      // utils.GetHitsAddends: the descriptor's own (0 allowed), else the request's, at least 1.
      const hits = d.hitsAddend ?? Math.max(1, call.hitsAddend ?? 0);
      const after = (counters.get(key) ?? 0) + hits;
      counters.set(key, after);
      const end = Math.max(windowEnds.get(key) ?? 0, windowStart + divider);
      windowEnds.set(key, end);
      nextEnd = Math.min(nextEnd, end);
      const over = after > limit.requestsPerUnit;
      // base_limiter.go: a shadow_mode limit over its limit still answers OK (remaining 0).
      const code: RlsCode = over && !limit.shadowMode ? 'OVER_LIMIT' : 'OK';
      if (limit.quotaMode) {
        totalQuota++;
        if (code === 'OVER_LIMIT') failedQuota++;
      } else if (code === 'OVER_LIMIT') failedRateLimit++;
      return {
        code,
        currentLimit: { name: limit.name, requestsPerUnit: limit.requestsPerUnit, unit: limit.unit },
        limitRemaining: over ? 0 : limit.requestsPerUnit - after,
        // utils.CalculateReset: the unit less the whole seconds into it.
        durationUntilResetMs: (divider - (nowS % divider)) * 1000,
      };
    });
    // OVER_LIMIT iff a rate limit is over, or every quota_mode limit is.
    const over = failedRateLimit > 0 || (totalQuota > 0 && totalQuota === failedQuota);
    return {
      overallCode: over && !globalShadowMode ? 'OVER_LIMIT' : 'OK',
      statuses,
      responseHeadersToAdd: [],
      requestHeadersToAdd: [],
      rawBody: null,
    };
  };

  return {
    shouldRateLimit,
    setConfig: (config) => {
      domains = parseConfigs(config);
    },
    get counters(): ReadonlyMap<string, number> {
      prune(nowSeconds());
      return counters;
    },
  };
}
