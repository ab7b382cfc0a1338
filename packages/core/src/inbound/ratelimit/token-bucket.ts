import type { TokenBucket } from '../../config/schema/local-rate-limit.js';

/**
 * Envoy's local rate limit token bucket (local_ratelimit_impl.cc): starts full,
 * gains `tokensPerFill` every `fillIntervalMs` up to `maxTokens`, one token per
 * request. Refills are computed lazily from the injected clock on each use, so no
 * timer runs.
 */
export interface BucketState {
  tokens: number;
  /** Clock time of the last refill boundary. */
  lastFill: number;
}

export function createBucket(now: number, bucket: TokenBucket): BucketState {
  return { tokens: bucket.maxTokens, lastFill: now };
}

function refill(state: BucketState, bucket: TokenBucket, now: number): void {
  const intervals = Math.floor((now - state.lastFill) / bucket.fillIntervalMs);
  if (intervals <= 0) return;
  state.tokens = Math.min(bucket.maxTokens, state.tokens + intervals * bucket.tokensPerFill);
  state.lastFill += intervals * bucket.fillIntervalMs;
}

/** Takes one token; false when the bucket is empty. */
export function consume(state: BucketState, bucket: TokenBucket, now: number): boolean {
  refill(state, bucket, now);
  if (state.tokens < 1) return false;
  state.tokens -= 1;
  return true;
}

/** `x-ratelimit-reset`: whole seconds until the next refill (at least 1 while waiting). */
export function secondsToReset(state: BucketState, bucket: TokenBucket, now: number): number {
  refill(state, bucket, now);
  return Math.max(0, Math.ceil((state.lastFill + bucket.fillIntervalMs - now) / 1000));
}
