import type { RetryPolicy } from './plan-types.js';
import type { HTTPRetryIn } from './spec-types.js';
import { toMs } from './duration.js';

/** Istio's default outbound `retryOn` (pilot route/retry/retry.go `DefaultPolicy`, since 2024 without 503). */
export const DEFAULT_RETRY_ON = Object.freeze([
  'connect-failure',
  'refused-stream',
  'unavailable',
  'cancelled',
  'retriable-status-codes',
]);

/** Envoy's default backoff base interval (router `retry_back_off`). */
export const DEFAULT_BACKOFF_MS = 25;

function base(): RetryPolicy {
  return {
    retries: 2,
    retryOn: DEFAULT_RETRY_ON,
    retriableStatusCodes: [],
    perTryTimeoutMs: null,
    backoffBaseMs: DEFAULT_BACKOFF_MS,
    backoffMaxMs: DEFAULT_BACKOFF_MS * 10,
    previousHosts: true,
    hostSelectionRetryMaxAttempts: 5,
    retryRemoteLocalities: false,
  };
}

/**
 * Policies whose previous-hosts predicate does not depend on the destination's load
 * balancer: `retryIgnorePreviousHosts` was set, or the default outbound route's policy
 * (route.go BuildDefaultHTTPOutboundRoute calls `ConvertPolicy(..., false)`). Any other
 * policy loses the predicate on a consistent-hash route (see {@link forConsistentHash}).
 */
const fixedPreviousHosts = new WeakSet<RetryPolicy>();

/** The retry policy of Istio's default outbound route (a service without VirtualService). */
export function defaultRetryPolicy(): RetryPolicy {
  const p = base();
  fixedPreviousHosts.add(p);
  return p;
}

/**
 * `policy` on a route Istio deems consistent-hash (route.go applyHTTPRouteDestination: one
 * `route` entry whose destination has a `consistentHash` load balancer): retry.go
 * `ConvertPolicy(in, hashPolicy=true)` leaves out the previous_hosts predicate unless
 * `retryIgnorePreviousHosts` is set, so retries may go back to the hashed host.
 */
export function forConsistentHash(policy: RetryPolicy): RetryPolicy {
  if (!policy.previousHosts || fixedPreviousHosts.has(policy)) return policy;
  return { ...policy, previousHosts: false };
}

/**
 * `HTTPRoute.retries` as Istio translates it (`retry.ConvertPolicy`): absent ⇒
 * the default policy; `attempts` 0 ⇒ null (no retries); numeric `retryOn`
 * items become retriable status codes plus `retriable-status-codes`; `backoff`
 * is the base interval, the max is 10× base (Envoy).
 */
export function compileRetries(input: HTTPRetryIn | undefined): RetryPolicy | null {
  if (input === undefined) return base();
  const attempts = input.attempts ?? 0;
  if (attempts <= 0) return null;
  let retryOn: readonly string[] = DEFAULT_RETRY_ON;
  let codes: number[] = [];
  if (input.retryOn !== undefined && input.retryOn !== '') {
    const names: string[] = [];
    codes = [];
    for (const raw of input.retryOn.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      if (/^\d+$/.test(item)) {
        const code = Number(item);
        if (code >= 100 && code <= 599) codes.push(code);
      } else if (!names.includes(item)) names.push(item);
    }
    if (codes.length > 0 && !names.includes('retriable-status-codes')) names.push('retriable-status-codes');
    retryOn = names;
  }
  const backoff = toMs(input.backoff) ?? DEFAULT_BACKOFF_MS;
  const policy: RetryPolicy = {
    retries: attempts,
    retryOn,
    retriableStatusCodes: codes,
    perTryTimeoutMs: toMs(input.perTryTimeout),
    backoffBaseMs: backoff,
    backoffMaxMs: backoff * 10,
    previousHosts: input.retryIgnorePreviousHosts !== false,
    hostSelectionRetryMaxAttempts: 5,
    retryRemoteLocalities: input.retryRemoteLocalities === true,
  };
  if (input.retryIgnorePreviousHosts !== undefined) fixedPreviousHosts.add(policy);
  return policy;
}

/** Describes a retry policy the way `meshlet routes` prints it. */
export function describeRetries(r: RetryPolicy | null): string {
  if (r === null) return 'none';
  const codes = r.retriableStatusCodes.length > 0 ? ` codes=${r.retriableStatusCodes.join(',')}` : '';
  const perTry = r.perTryTimeoutMs === null ? '' : ` perTry=${r.perTryTimeoutMs}ms`;
  const on = r.retryOn === DEFAULT_RETRY_ON ? 'default retryOn' : r.retryOn.join(',');
  return `${r.retries}x ${on}${codes}${perTry}`;
}
