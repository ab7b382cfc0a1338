import type { ConsistentHash } from '../../compile/traffic-policy.js';
import type { Random } from '../../runtime/random.js';
import { hash32 } from './hash.js';
import type { HostState } from './host-state.js';
import type { HostPicker } from './picker.js';

/** Envoy's `maximum_ring_size` default. */
const MAX_RING_SIZE = 8 * 1024 * 1024;
/** The ring size meshlet uses for `maglev` (Envoy's ring-hash default). */
const MAGLEV_RING_SIZE = 1024;

interface Ring {
  readonly hashes: Uint32Array;
  readonly hosts: readonly HostState[];
}

/**
 * Builds the ring as Envoy's `RingHashLoadBalancer::Ring` does: the lightest host gets a
 * whole number of entries, at least `minimumRingSize` entries in all, each host's share
 * proportional to its weight; an entry's position is the hash of `<address:port>_<i>`.
 */
export function buildRing(hosts: readonly HostState[], minimumRingSize: number): Ring {
  let total = 0;
  for (const h of hosts) total += h.weight;
  let minNormalized = 1;
  for (const h of hosts) minNormalized = Math.min(minNormalized, h.weight / total);
  const scale = Math.min(Math.ceil(minNormalized * minimumRingSize) / minNormalized, MAX_RING_SIZE);
  const entries: { hash: number; host: HostState }[] = [];
  let current = 0;
  let target = 0;
  for (const h of hosts) {
    target += (scale * h.weight) / total;
    for (let i = 0; current < target; i++, current++) {
      entries.push({ hash: hash32(`${h.id}_${i}`), host: h });
    }
  }
  entries.sort((a, b) => a.hash - b.hash);
  return { hashes: Uint32Array.from(entries, (e) => e.hash), hosts: entries.map((e) => e.host) };
}

/** Index of the first entry at or after `h`, wrapping to 0. */
function lowerBound(hashes: Uint32Array, h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

/**
 * `consistentHash` (ring hash; `maglev` uses the same ring). The ring holds the eligible
 * hosts and is rebuilt when they change, so only keys of a removed or ejected host move.
 * No hash key (header absent, ...) picks at random, as Envoy does. A retry that must avoid
 * previous hosts walks the ring forward past them (Envoy's `attempt` offset).
 */
export function createRingHash(policy: ConsistentHash, random: Random): HostPicker {
  const size = policy.ring.kind === 'ringHash' ? policy.ring.minimumRingSize : MAGLEV_RING_SIZE;
  let version = -1;
  let ring: Ring = { hashes: new Uint32Array(0), hosts: [] };
  return {
    pick(hosts, v, skip, hashKey) {
      if (v !== version) {
        version = v;
        ring = buildRing(hosts, size);
      }
      const h = hashKey === null ? Math.floor(random.next() * 0x1_0000_0000) : hash32(hashKey);
      const n = ring.hosts.length;
      const start = lowerBound(ring.hashes, h);
      for (let k = 0; k < n; k++) {
        const host = ring.hosts[(start + k) % n]!;
        if (skip === null || !skip(host)) return host;
      }
      return hosts[0]!;
    },
  };
}
