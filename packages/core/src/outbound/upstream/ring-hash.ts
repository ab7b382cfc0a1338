import type { Random } from '../../runtime/random.js';
import { createKeyHasher, randomHash } from './hash.js';
import type { HostState } from './host-state.js';
import type { HostPicker, SkipHost } from './picker.js';
import { xxHash64, type Hash64 } from './xxhash64.js';

/** Envoy's `maximum_ring_size` default (Istio never sets it). */
export const DEFAULT_MAX_RING_SIZE = 8 * 1024 * 1024;

/**
 * Istio writes `host_selection_retry_max_attempts: 5` on every route (retry.go
 * `newRetryPolicy`), so a retry that must avoid previous hosts tries hash attempts 0..5.
 */
export const HOST_SELECTION_RETRIES = 5;

/**
 * The ring, sorted by 64-bit position. Positions are kept as two Uint32Arrays (high and low
 * halves): a lookup compares plain numbers, measured cheaper than a BigUint64Array, whose
 * every read allocates a BigInt.
 */
export interface Ring {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly hosts: readonly HostState[];
}

/**
 * Builds the ring as envoy ring_hash_lb.cc `RingHashLoadBalancer::Ring` does: weights are
 * normalized to sum 1; the scale gives the lightest host a whole number of entries and at
 * least `minimumRingSize` in all, capped at `maximumRingSize`; running sums hand each host
 * `scale × weight` entries (so fractions still add up); entry `i` of a host sits at
 * xxHash64("<address:port>_<i>"), the address being the host's (Istio leaves
 * `use_hostname_for_hashing` off). `weights`, when given, are the hosts' normalized weights
 * as they are, locality weights folded in (thread_aware_lb_impl.cc normalizeWeights); they
 * may sum to less than 1 when a weighted locality has no healthy host, as in Envoy.
 */
export function buildRing(
  hosts: readonly HostState[],
  minimumRingSize: number,
  maximumRingSize: number = DEFAULT_MAX_RING_SIZE,
  weights: readonly number[] | null = null,
): Ring {
  const norm = weights ?? normalizedWeights(hosts);
  let minWeight = 1;
  for (const w of norm) minWeight = Math.min(minWeight, w);
  const scale = Math.min(Math.ceil(minWeight * minimumRingSize) / minWeight, maximumRingSize);

  const his: number[] = [];
  const los: number[] = [];
  const owners: HostState[] = [];
  let current = 0;
  let target = 0;
  for (let k = 0; k < hosts.length; k++) {
    const h = hosts[k]!;
    target += scale * norm[k]!;
    for (let i = 0; current < target; i++, current++) {
      const pos = xxHash64(`${h.id}_${i}`);
      his.push(pos.hi);
      los.push(pos.lo);
      owners.push(h);
    }
  }

  const order = Array.from(owners, (_, i) => i);
  order.sort((a, b) => his[a]! - his[b]! || los[a]! - los[b]!);
  const n = order.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const sorted = new Array<HostState>(n);
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    hi[k] = his[i]!;
    lo[k] = los[i]!;
    sorted[k] = owners[i]!;
  }
  return { hi, lo, hosts: sorted };
}

/** Host weights over their sum (envoy thread_aware_lb_impl.cc normalizeHostWeights, locality weight 1). */
export function normalizedWeights(hosts: readonly HostState[]): number[] {
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  return hosts.map((h) => h.weight / sum);
}

/**
 * The first entry at or after `h`, wrapping to 0 past the last: what Envoy's ketama binary
 * search (`Ring::chooseHost`) returns.
 */
function lowerBound(ring: Ring, h: Hash64): number {
  const { hi, lo } = ring;
  let a = 0;
  let b = hi.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    const mh = hi[m]!;
    if (mh < h.hi || (mh === h.hi && lo[m]! < h.lo)) a = m + 1;
    else b = m;
  }
  return a === hi.length ? 0 : a;
}

/**
 * Envoy's host choice for hash `h`: attempt 0 is the entry found; when a retry predicate
 * rejects it, attempt `k` (up to `retryCount`) takes the entry `k` places further on
 * (thread_aware_lb_impl.cc `chooseHost`, ring_hash_lb.cc `attempt` offset). When every
 * attempt is rejected, the last one is kept. Null only for an empty ring.
 */
export function ringPick(ring: Ring, h: Hash64, retryCount: number, skip: SkipHost): HostState | null {
  const n = ring.hosts.length;
  if (n === 0) return null;
  const start = lowerBound(ring, h);
  let host = ring.hosts[start]!;
  if (skip === null || !skip(host)) return host;
  for (let attempt = 1; attempt <= retryCount; attempt++) {
    host = ring.hosts[(start + attempt) % n]!;
    if (!skip(host)) return host;
  }
  return host;
}

/**
 * `consistentHash` with a ring (`ringHash`, or neither `ringHash` nor `maglev`). The ring
 * holds the eligible hosts and is rebuilt when they change. No hash key (header absent, ...)
 * hashes a random 64-bit value, as Envoy does.
 */
export function createRingHash(minimumRingSize: number, random: Random): HostPicker {
  const hashOf = createKeyHasher();
  let version = -1;
  let ring: Ring = { hi: new Uint32Array(0), lo: new Uint32Array(0), hosts: [] };
  return {
    pick(hosts, v, skip, hashKey, weights) {
      if (v !== version) {
        version = v;
        ring = buildRing(hosts, minimumRingSize, DEFAULT_MAX_RING_SIZE, weights ?? null);
      }
      const h = hashKey === null ? randomHash(random) : hashOf(hashKey);
      return ringPick(ring, h, HOST_SELECTION_RETRIES, skip) ?? hosts[0]!;
    },
  };
}
