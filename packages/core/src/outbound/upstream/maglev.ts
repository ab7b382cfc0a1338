import type { Random } from '../../runtime/random.js';
import { createKeyHasher, randomHash } from './hash.js';
import type { HostState } from './host-state.js';
import type { HostPicker, SkipHost } from './picker.js';
import { HOST_SELECTION_RETRIES, normalizedWeights } from './ring-hash.js';
import { xxHash64, type Hash64 } from './xxhash64.js';

/** A filled Maglev lookup table: `slots[i]` indexes `hosts`. */
export interface MaglevTable {
  readonly size: number;
  readonly slots: Uint32Array;
  readonly hosts: readonly HostState[];
}

interface BuildEntry {
  readonly offset: number;
  readonly skip: number;
  readonly weight: number;
  target: number;
  /** permutation(next) = (offset + skip × next) % size, kept incrementally. */
  position: number;
}

const TWO32 = 4294967296;

/** The full 64-bit value modulo `n` (n < 2^26, so every product stays exact). */
function mod64(h: Hash64, n: number): number {
  return ((h.hi % n) * (TWO32 % n) + h.lo) % n;
}

/**
 * Envoy's Maglev table (maglev_lb.cc `constructMaglevTableInternal`, pseudocode listing 1 of
 * the Maglev paper): hosts sorted by address string, so the table does not depend on their
 * order; each host's offset is xxHash64(address) % size and its skip
 * xxHash64(address, seed 1) % (size − 1) + 1; rounds fill one slot per host, a host of
 * normalized weight w taking a turn when `round × w ≥ its target` (target += max weight).
 * `weights`, when given, are the hosts' normalized weights with locality weights folded in
 * (thread_aware_lb_impl.cc normalizeWeights), used as they are.
 */
export function buildMaglev(
  hosts: readonly HostState[],
  tableSize: number,
  weights: readonly number[] | null = null,
): MaglevTable {
  const norm = weights ?? normalizedWeights(hosts);
  const order = Array.from(hosts, (_, i) => i);
  order.sort((a, b) => {
    const x = hosts[a]!.id;
    const y = hosts[b]!.id;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const sorted = order.map((i) => hosts[i]!);
  let maxWeight = 0;
  const entries: BuildEntry[] = sorted.map((h, k) => {
    const weight = norm[order[k]!]!;
    maxWeight = Math.max(maxWeight, weight);
    const offset = mod64(xxHash64(h.id), tableSize);
    const skip = mod64(xxHash64(h.id, { hi: 0, lo: 1 }), tableSize - 1) + 1;
    return { offset, skip, weight, target: 0, position: offset };
  });

  const empty = 0xffffffff;
  const slots = new Uint32Array(tableSize).fill(empty);
  let filled = 0;
  for (let round = 1; filled < tableSize && entries.length > 0; round++) {
    for (let i = 0; i < entries.length && filled < tableSize; i++) {
      const e = entries[i]!;
      if (round * e.weight < e.target) continue;
      e.target += maxWeight;
      while (slots[e.position] !== empty) e.position = (e.position + e.skip) % tableSize;
      slots[e.position] = i;
      e.position = (e.position + e.skip) % tableSize;
      filled++;
    }
  }
  return { size: tableSize, slots, hosts: sorted };
}

/**
 * Envoy's lookup: `table[hash % size]`; for retry attempt k > 0 the hash is first XORed
 * with 2^64 − k (maglev_lb.cc `chooseHost`), and the last attempt is kept when every one is
 * rejected. Null only for an empty table.
 */
export function maglevPick(t: MaglevTable, h: Hash64, retryCount: number, skip: SkipHost): HostState | null {
  if (t.hosts.length === 0) return null;
  let host = t.hosts[t.slots[mod64(h, t.size)]!]!;
  if (skip === null || !skip(host)) return host;
  for (let attempt = 1; attempt <= retryCount; attempt++) {
    const flipped = { hi: (h.hi ^ 0xffffffff) >>> 0, lo: (h.lo ^ (TWO32 - attempt)) >>> 0 };
    host = t.hosts[t.slots[mod64(flipped, t.size)]!]!;
    if (!skip(host)) return host;
  }
  return host;
}

/**
 * `consistentHash.maglev`: Envoy's MAGLEV load balancer (Istio cluster_traffic_policy.go
 * `ApplyRingHashLoadBalancer`). The table is rebuilt when the eligible hosts change; a
 * request without a hash key looks up a random 64-bit value.
 */
export function createMaglev(tableSize: number, random: Random): HostPicker {
  const hashOf = createKeyHasher();
  let version = -1;
  let table: MaglevTable = { size: tableSize, slots: new Uint32Array(0), hosts: [] };
  return {
    pick(hosts, v, skip, hashKey, weights) {
      if (v !== version) {
        version = v;
        table = buildMaglev(hosts, tableSize, weights ?? null);
      }
      const h = hashKey === null ? randomHash(random) : hashOf(hashKey);
      return maglevPick(table, h, HOST_SELECTION_RETRIES, skip) ?? hosts[0]!;
    },
  };
}
