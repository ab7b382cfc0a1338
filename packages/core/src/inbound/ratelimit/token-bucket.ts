import type { TokenBucket } from '../../config/schema/local-rate-limit.js';

/**
 * Envoy's local rate limit token bucket since 1.31 (local_ratelimit_impl.h
 * `AtomicTokenBucket` over common/common/token_bucket_impl.cc `AtomicTokenBucketImpl`;
 * the timer-based bucket and its runtime guard were removed in 1.34): it starts full and
 * refills continuously at `tokensPerFill / fillInterval`, up to `maxTokens`, one token per
 * request. The state is the clock time at which the bucket would have been empty, so
 * nothing runs between requests.
 */
export interface BucketState {
  /** `clock.now()` at which the bucket held no tokens, given the refills since. */
  emptyAt: number;
}

/** Tokens per clock millisecond. */
const rateOf = (bucket: TokenBucket): number => bucket.tokensPerFill / bucket.fillIntervalMs;

export function createBucket(now: number, bucket: TokenBucket): BucketState {
  return { emptyAt: now - bucket.maxTokens / rateOf(bucket) };
}

function available(state: BucketState, bucket: TokenBucket, now: number): number {
  return Math.min(bucket.maxTokens, (now - state.emptyAt) * rateOf(bucket));
}

/** Takes one token; false when less than one has refilled. */
export function consume(state: BucketState, bucket: TokenBucket, now: number): boolean {
  const tokens = available(state, bucket, now);
  if (tokens < 1) return false;
  state.emptyAt = now - (tokens - 1) / rateOf(bucket);
  return true;
}

/** `x-ratelimit-remaining`: the whole tokens left (`AtomicTokenBucketImpl::remainingTokens`). */
export function remainingTokens(state: BucketState, bucket: TokenBucket, now: number): number {
  return Math.floor(available(state, bucket, now));
}
