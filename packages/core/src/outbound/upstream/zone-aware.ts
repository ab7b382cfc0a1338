/**
 * Envoy's zone-aware routing within priority 0 (envoy source/extensions/load_balancing_policies/
 * common/load_balancer_impl.cc `ZoneAwareLoadBalancerBase`), used by the round-robin,
 * least-request and random balancers; ring hash and Maglev (thread-aware balancers) do not
 * do it. Percentages are in Envoy's units: 10000 = 100 %.
 */
import { splitLocality } from '../../compile/locality.js';
import type { Random } from '../../runtime/random.js';

/** One upstream locality of priority 0, in Envoy's order (the proxy's own first when present). */
export interface UpstreamLocality {
  /** `region/zone/subzone`. */
  readonly locality: string;
  /** Its healthy hosts. */
  readonly healthy: number;
}

export type ZoneRoutingState =
  | { readonly kind: 'none' }
  /** Every request to the local locality (`LocalityDirect`). */
  | { readonly kind: 'direct' }
  /**
   * `LocalityResidual`: `localPercent` of 10000 to the local locality, the rest to the other
   * localities in proportion to their residual capacity (`residual`, cumulative, per locality).
   */
  | { readonly kind: 'residual'; readonly localPercent: number; readonly residual: readonly number[] };

const NONE: ZoneRoutingState = { kind: 'none' };

/** A locality in one canonical form (`a/b` and `a/b/` are the same Envoy Locality). */
export function localityKey(locality: string): string {
  const l = splitLocality(locality);
  return `${l.region}/${l.zone}/${l.subzone}`;
}

/**
 * envoy `regenerateLocalityRoutingStructures` with `earlyExitNonLocalityRouting` and
 * `calculateLocalityPercentages`. No zone routing when priority 0 has fewer than two
 * localities, the local cluster fewer than two or none of its hosts in the proxy's own
 * locality, or priority 0 fewer healthy hosts than `minClusterSize`. Otherwise all requests
 * stay local when the local locality's share of the upstream's healthy hosts is at least its
 * share of the local cluster; else only `upstream / local` of them do, and the rest goes to
 * the localities whose upstream share exceeds their local share.
 */
export function zoneRoutingState(
  upstream: readonly UpstreamLocality[],
  proxyLocality: string,
  localCluster: readonly string[],
  minClusterSize: number,
): ZoneRoutingState {
  if (upstream.length < 2) return NONE;
  const proxy = localityKey(proxyLocality);
  const localCounts = new Map<string, number>();
  for (const l of localCluster) {
    const k = localityKey(l);
    localCounts.set(k, (localCounts.get(k) ?? 0) + 1);
  }
  if (localCounts.size < 2 || (localCounts.get(proxy) ?? 0) === 0) return NONE;
  let totalUpstream = 0;
  for (const u of upstream) totalUpstream += u.healthy;
  if (totalUpstream < minClusterSize) return NONE;
  const totalLocal = localCluster.length;
  const pct = upstream.map((u) =>
    u.healthy === 0
      ? { local: 0, upstream: 0 }
      : {
          local: Math.floor((10000 * (localCounts.get(localityKey(u.locality)) ?? 0)) / totalLocal),
          upstream: Math.floor((10000 * u.healthy) / totalUpstream),
        },
  );
  const hasLocal = localityKey(upstream[0]!.locality) === proxy;
  const first = pct[0]!;
  if (hasLocal && first.upstream > 0 && first.upstream >= first.local) return { kind: 'direct' };
  const localPercent = hasLocal && first.local > 0 ? Math.floor((first.upstream * 10000) / first.local) : 0;
  const residual: number[] = [];
  let last = 0;
  pct.forEach((p, i) => {
    if (!(i === 0 && hasLocal) && p.upstream > p.local) last += p.upstream - p.local;
    residual.push(last);
  });
  return { kind: 'residual', localPercent, residual };
}

/** A 32-bit unsigned draw, for Envoy's `random() % n`. */
export function randomInt(random: Random): number {
  return Math.floor(random.next() * 0x1_0000_0000);
}

/**
 * envoy `tryChooseLocalLocalityHosts`: the index (in `zoneRoutingState`'s order) of the
 * locality this request goes to; 0 is the local one.
 */
export function chooseZone(state: ZoneRoutingState, random: Random): number {
  if (state.kind !== 'residual') return 0;
  if (randomInt(random) % 10000 < state.localPercent) return 0;
  const n = state.residual.length;
  const total = state.residual[n - 1]!;
  // Rounding can leave no residual capacity: any locality then.
  if (total === 0) return randomInt(random) % n;
  const threshold = randomInt(random) % total;
  let i = 0;
  while (threshold >= state.residual[i]!) i++;
  return i;
}
