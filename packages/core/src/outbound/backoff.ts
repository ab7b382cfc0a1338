import type { Random } from '../runtime/random.js';

/**
 * Envoy's full-jitter exponential backoff (common/backoff_strategy.cc, spec/traffic.md §3):
 * retry `k` (1-based) waits `random × min(base·2^(k−1), max)` ms — [0,25), [0,50),
 * [0,100), [0,200), [0,250) … with Istio's 25 ms base and 250 ms cap.
 */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: Random): number {
  const ceiling = Math.min(baseMs * 2 ** (retry - 1), maxMs);
  return Math.floor(random.next() * ceiling);
}
