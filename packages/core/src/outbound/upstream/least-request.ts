import type { Random } from '../../runtime/random.js';
import { EdfScheduler } from './edf-scheduler.js';
import type { HostState } from './host-state.js';
import { weightsEqual, type HostPicker } from './picker.js';
import { warming, withSlowStart } from './slow-start.js';

/** Envoy's `choice_count` default; Istio does not change it. */
const CHOICES = 2;

/** `weight / (active + 1)`: Envoy's `active_request_bias` 1.0. */
const dynamicWeight = (h: HostState): number => h.weight / (h.active + 1);

/**
 * `simple: LEAST_REQUEST`, Istio's default (envoy least_request_lb.cc): with equal weights,
 * power of two choices — two hosts drawn at random (with replacement), the one with fewer
 * active requests wins, the first on a tie. With different weights, or while a host may be
 * in slow start (slow-start.ts), an EDF schedule whose weights are `weight / (active + 1)`
 * (times the slow-start factor) at the time each host is re-queued.
 */
export function createLeastRequest(random: Random): HostPicker {
  let version = -1;
  let edf: EdfScheduler<HostState> | null = null;
  let weightOf = dynamicWeight;
  return {
    pick(hosts, v, skip) {
      if (v !== version) {
        version = v;
        weightOf = withSlowStart(hosts, dynamicWeight);
        edf =
          weightsEqual(hosts) && !warming(hosts)
            ? null
            : new EdfScheduler(hosts, weightOf, Math.floor(random.next() * hosts.length));
      }
      if (edf !== null) return edf.pick(weightOf, skip) ?? hosts[0]!;
      const pool = skip === null ? hosts : hosts.filter((h) => !skip(h));
      let best: HostState | undefined;
      for (let c = 0; c < CHOICES; c++) {
        const h = pool[Math.floor(random.next() * pool.length)];
        if (h !== undefined && (best === undefined || h.active < best.active)) best = h;
      }
      return best ?? hosts[0]!;
    },
  };
}
