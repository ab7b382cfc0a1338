import { performance } from 'node:perf_hooks';

/**
 * Wall-clock milliseconds since the epoch from the monotonic clock plus an offset taken
 * from `Date.now()` at most every `resyncMs`. Per request this is one fast
 * `performance.now()` instead of `Date.now()`, which V8 11 (Node 20) serves through a
 * runtime call. A step of the system clock shows within `resyncMs`.
 */
export function createWallClock(
  resyncMs = 1_000,
  wall: () => number = Date.now,
  monotonic: () => number = () => performance.now(),
): () => number {
  let syncedAt = monotonic();
  let offset = wall() - syncedAt;
  return () => {
    const t = monotonic();
    if (t - syncedAt >= resyncMs || t < syncedAt) {
      syncedAt = t;
      offset = wall() - t;
    }
    return offset + t;
  };
}

/** The process's wall clock for hot paths (JWT `exp`/`nbf`, the inbound START_TIME). */
export const wallClockMs: () => number = createWallClock();
