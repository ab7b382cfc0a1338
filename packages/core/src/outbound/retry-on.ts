import type { RetryPolicy } from '../compile/plan-types.js';
import { headerValue, type HeaderRecord } from './request-input.js';

/** How one try ended, in the terms Envoy's retry state reads. */
export type TryOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Readonly<HeaderRecord> }
  | {
      readonly kind: 'failure';
      readonly failure:
        'connect-failure' | 'connect-timeout' | 'tls' | 'reset' | 'protocol' | 'per-try-timeout';
      readonly beforeRequestSent: boolean;
      /** Envoy's upstream transport failure reason, when the transport gave one. */
      readonly transportFailureReason?: string | null;
    };

const R_5XX = 1;
const R_GATEWAY = 2;
const R_RESET = 4;
const R_RESET_BEFORE = 8;
const R_CONNECT = 16;
const R_REFUSED = 32;
const R_4XX = 64;
const R_CODES = 128;
const R_RATELIMITED = 256;
const R_GRPC_CANCELLED = 512;
const R_GRPC_DEADLINE = 1024;
const R_GRPC_INTERNAL = 2048;
const R_GRPC_EXHAUSTED = 4096;
const R_GRPC_UNAVAILABLE = 8192;

const BITS: Readonly<Record<string, number>> = {
  '5xx': R_5XX,
  'gateway-error': R_GATEWAY,
  reset: R_RESET,
  'reset-before-request': R_RESET_BEFORE,
  'connect-failure': R_CONNECT,
  'refused-stream': R_REFUSED,
  'retriable-4xx': R_4XX,
  'retriable-status-codes': R_CODES,
  'envoy-ratelimited': R_RATELIMITED,
  cancelled: R_GRPC_CANCELLED,
  'deadline-exceeded': R_GRPC_DEADLINE,
  internal: R_GRPC_INTERNAL,
  'resource-exhausted': R_GRPC_EXHAUSTED,
  unavailable: R_GRPC_UNAVAILABLE,
};

/** gRPC status code → retryOn bit (Envoy reads `grpc-status` from response headers only). */
const GRPC_BITS: Readonly<Record<string, number>> = {
  '1': R_GRPC_CANCELLED,
  '4': R_GRPC_DEADLINE,
  '13': R_GRPC_INTERNAL,
  '8': R_GRPC_EXHAUSTED,
  '14': R_GRPC_UNAVAILABLE,
};

const masks = new WeakMap<RetryPolicy, number>();

/** `retryOn` as a bit set, computed once per (frozen) policy. `retriable-headers` has no headers in Istio: inert. */
function maskOf(policy: RetryPolicy): number {
  let m = masks.get(policy);
  if (m === undefined) {
    m = 0;
    for (const item of policy.retryOn) m |= BITS[item] ?? 0;
    masks.set(policy, m);
  }
  return m;
}

/**
 * Whether Envoy would retry this outcome under `policy.retryOn`
 * (router/retry_state_impl.cc `wouldRetryFromHeaders` / `wouldRetryFromReset`,
 * spec/traffic.md §3 table). A response carrying `x-envoy-overloaded` is never retried.
 */
export function wouldRetry(policy: RetryPolicy, outcome: TryOutcome): boolean {
  const m = maskOf(policy);
  if (outcome.kind === 'failure') {
    // Every reset — connect failures and per-try timeouts included — counts as a 5xx
    // under 5xx/gateway-error/reset (retry_state_impl.cc "we count an upstream reset as a 5xx").
    if (m & (R_5XX | R_GATEWAY | R_RESET)) return true;
    const f = outcome.failure;
    if ((m & R_CONNECT) !== 0 && (f === 'connect-failure' || f === 'connect-timeout' || f === 'tls'))
      return true;
    if ((m & R_RESET_BEFORE) !== 0 && outcome.beforeRequestSent) return true;
    return false;
  }
  const h = outcome.headers;
  if (h['x-envoy-overloaded'] !== undefined) return false;
  const s = outcome.status;
  if ((m & R_5XX) !== 0 && s >= 500) return true;
  if ((m & R_GATEWAY) !== 0 && (s === 502 || s === 503 || s === 504)) return true;
  if ((m & R_4XX) !== 0 && s === 409) return true;
  if ((m & R_CODES) !== 0 && policy.retriableStatusCodes.includes(s)) return true;
  if ((m & R_RATELIMITED) !== 0 && h['x-envoy-ratelimited'] !== undefined) return true;
  const grpcMask =
    m & (R_GRPC_CANCELLED | R_GRPC_DEADLINE | R_GRPC_INTERNAL | R_GRPC_EXHAUSTED | R_GRPC_UNAVAILABLE);
  if (grpcMask !== 0) {
    const g = headerValue(h, 'grpc-status');
    if (g !== undefined && ((GRPC_BITS[g.trim()] ?? 0) & grpcMask) !== 0) return true;
  }
  return false;
}
