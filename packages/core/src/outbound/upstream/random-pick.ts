import type { Random } from '../../runtime/random.js';
import type { HostPicker } from './picker.js';

/**
 * `simple: RANDOM` (envoy random_lb.cc): a uniform pick that ignores endpoint weights, as
 * Envoy's does.
 */
export function createRandomPicker(random: Random): HostPicker {
  return {
    pick(hosts, _v, skip) {
      const pool = skip === null ? hosts : hosts.filter((h) => !skip(h));
      return pool[Math.floor(random.next() * pool.length)] ?? hosts[0]!;
    },
  };
}
