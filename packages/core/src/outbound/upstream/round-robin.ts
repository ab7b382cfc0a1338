import type { Random } from '../../runtime/random.js';
import { EdfScheduler } from './edf-scheduler.js';
import type { HostState } from './host-state.js';
import { weightsEqual, type HostPicker, type SkipHost } from './picker.js';
import { warming, withSlowStart } from './slow-start.js';

const byWeight = (h: HostState): number => h.weight;

/**
 * `simple: ROUND_ROBIN` (envoy round_robin_lb.h): with equal weights a plain index walk
 * from a random start; with different weights, or while a host may be in slow start
 * (slow-start.ts), an EDF schedule (weighted round robin), rebuilt when the host set
 * changes, starting at a random point.
 */
export function createRoundRobin(random: Random): HostPicker {
  let index = Math.floor(random.next() * 0x1_0000_0000);
  let version = -1;
  let edf: EdfScheduler<HostState> | null = null;
  let weightOf = byWeight;
  return {
    pick(hosts, v, skip: SkipHost) {
      if (v !== version) {
        version = v;
        weightOf = withSlowStart(hosts, byWeight);
        edf =
          weightsEqual(hosts) && !warming(hosts)
            ? null
            : new EdfScheduler(hosts, weightOf, Math.floor(random.next() * hosts.length));
      }
      if (edf !== null) return edf.pick(weightOf, skip) ?? hosts[0]!;
      const n = hosts.length;
      for (let k = 0; k < n; k++) {
        const i = index % n;
        index = i + 1;
        const h = hosts[i]!;
        if (skip === null || !skip(h)) return h;
      }
      return hosts[0]!;
    },
  };
}
