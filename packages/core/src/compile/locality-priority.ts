import type { Endpoint } from './plan-types.js';
import { splitLocality, withTopologyLabels, type Locality } from './locality.js';
import { lbPriority, localityMatch, type ClusterLocalityLb } from './locality-lb.js';
import { zoneAwareRegionKey } from './zone-aware.js';

/** The Envoy load assignment istiod gives one proxy for a cluster's endpoints. */
export interface LocalityAssignment {
  /** Per endpoint (same index): its priority, 0 first, without gaps; -1 = left out (`distribute`). */
  readonly priorities: readonly number[];
  /** Per endpoint: its `LocalityLbEndpoints` group (locality and priority). */
  readonly groups: readonly string[];
  /** Group weight (`LocalityLbEndpoints.load_balancing_weight`). */
  readonly groupWeights: ReadonlyMap<string, number>;
  /** More than one priority, a left-out endpoint or locality weights: the runtime must rank. */
  readonly applies: boolean;
}

/** istio loadbalancer.go `FailoverPriorityLabelDefaultSeparator`; the network label (istio/api label). */
const NETWORK_LABEL = 'topology.istio.io/network';

const weightOf = (e: Endpoint): number => (e.weight >= 1 ? e.weight : 1);

/**
 * istio loadbalancer.go `applyFailoverPriorityPerLocality`: the first `failoverPriority`
 * label whose value differs from the proxy's (or the `label=value` override) ranks the
 * endpoint `n - index`; all equal is 0. A differing network label as the first entry is
 * not a break but pushes the endpoint below every same-network one.
 */
function labelPriority(
  labels: Readonly<Record<string, string>>,
  proxyLabels: Readonly<Record<string, string>>,
  names: readonly string[],
  overrides: ReadonlyMap<string, string>,
): number {
  const n = names.length;
  const includesNetwork = n > 0 && names[0] === NETWORK_LABEL;
  let priority = 0;
  let adjust = 0;
  for (let j = 0; j < n; j++) {
    const name = names[j]!;
    const want = overrides.get(name) ?? proxyLabels[name] ?? '';
    if (want === (labels[name] ?? '')) continue;
    if (j === 0 && includesNetwork) {
      adjust = n;
      continue;
    }
    priority = n - j;
    break;
  }
  return priority + adjust;
}

/**
 * istio loadbalancer.go `applyLocalityFailover`: `LbPriority`, and for another region 4
 * instead of 3 unless it is the `failover.to` of the first entry `from` the proxy's region.
 */
function localityPriority(
  proxy: Locality,
  ep: Locality,
  failover: ClusterLocalityLb['setting']['failover'],
): number {
  const p = lbPriority(proxy, ep);
  if (p !== 3) return p;
  const rule = failover.find((f) => f.from === proxy.region);
  return rule !== undefined && ep.region !== rule.to ? 4 : 3;
}

/** Ranks sort keys 0..N without gaps, as istiod compacts priorities. */
function compact(keys: readonly number[]): number[] {
  const rank = new Map([...new Set(keys.filter((k) => k >= 0))].sort((a, b) => a - b).map((k, i) => [k, i]));
  return keys.map((k) => (k < 0 ? -1 : rank.get(k)!));
}

/**
 * istio loadbalancer.go `applyLocalityWeights`: the first `distribute` rule `from` the
 * proxy's locality; each `to` pattern shares its weight among the localities it matches
 * (not matched by an earlier one) in proportion to their weights, rounded up; localities
 * no `to` matches lose their endpoints. Returns null when no rule is from the proxy.
 */
function distributeWeights(
  proxy: Locality,
  distribute: NonNullable<ClusterLocalityLb['setting']['distribute']>,
  groupWeights: Map<string, number>,
): Set<string> | null {
  const rule = distribute.find((d) => localityMatch(proxy, d.from));
  if (rule === undefined) return null;
  const unmatched = new Set(groupWeights.keys());
  for (const [pattern, weight] of rule.to) {
    const matched = [...unmatched].filter((g) => localityMatch(splitLocality(g), pattern));
    let total = 0;
    for (const g of matched) {
      unmatched.delete(g);
      total += groupWeights.get(g)!;
    }
    for (const g of matched) {
      const w = (groupWeights.get(g)! * weight) / total;
      if (w > 0) groupWeights.set(g, Math.ceil(w));
    }
  }
  return unmatched;
}

/**
 * istio loadbalancer.go `applyFailoverPriorities`: each endpoint's `failoverPriority` rank,
 * all 0 when there are no names or no proxy labels (it returns early then, loadbalancer.go:551).
 */
function labelKeys(
  endpoints: readonly Endpoint[],
  lb: ClusterLocalityLb,
  failoverPriority: readonly string[],
): number[] {
  if (failoverPriority.length === 0 || Object.keys(lb.proxyLabels).length === 0)
    return endpoints.map(() => 0);
  const overrides = new Map<string, string>();
  const names = failoverPriority.map((entry) => {
    const parts = entry.split('=');
    if (parts.length === 2) overrides.set(parts[0]!, parts[1]!);
    return parts[0]!;
  });
  return endpoints.map((e) =>
    labelPriority(withTopologyLabels(e.labels, e.locality), lb.proxyLabels, names, overrides),
  );
}

/**
 * The priority and locality group of each endpoint for one proxy
 * (istio loadbalancer.go `ApplyLocalityLoadBalancer`): `distribute` sets locality weights
 * (all at priority 0); otherwise, only with outlier detection, `failoverPriority` labels
 * rank first and `failover`/locality proximity within them.
 */
export function assignLocalities(endpoints: readonly Endpoint[], lb: ClusterLocalityLb): LocalityAssignment {
  const proxy = splitLocality(lb.proxy);
  const { distribute, failover, failoverPriority } = lb.setting;
  const localities = endpoints.map((e) => e.locality ?? '');
  let keys: number[] = endpoints.map(() => 0);
  const localityWeights = new Map<string, number>();
  for (let i = 0; i < endpoints.length; i++)
    localityWeights.set(localities[i]!, (localityWeights.get(localities[i]!) ?? 0) + weightOf(endpoints[i]!));
  let dropped: Set<string> | null = null;
  const zoneAware = lb.zoneAware ?? null;
  if (zoneAware !== null) {
    // loadbalancer.go ApplyZoneAwareLoadBalancer: failoverPriority labels (no outlier
    // detection needed), then the region buckets under them, so every zone of the proxy's
    // region shares priority 0, where Envoy's zone-aware routing balances them.
    keys = labelKeys(endpoints, lb, zoneAware.failoverPriority);
    keys = keys.map((k, i) =>
      zoneAwareRegionKey(k, proxy.region, splitLocality(localities[i]!).region, zoneAware.failover),
    );
  } else if (distribute !== null) {
    dropped = distributeWeights(proxy, distribute, localityWeights);
    if (dropped !== null) keys = keys.map((k, i) => (dropped!.has(localities[i]!) ? -1 : k));
  } else if (lb.failover) {
    keys = labelKeys(endpoints, lb, failoverPriority);
    // With failoverPriority, locality failover joins only when `failover` is listed too.
    if (failoverPriority.length === 0 || failover.length > 0) {
      keys = keys.map((k, i) => k * 5 + localityPriority(proxy, splitLocality(localities[i]!), failover));
    }
  }
  const priorities = compact(keys);
  const groups = priorities.map((p, i) => `${p}|${localities[i]!}`);
  const groupWeights = new Map<string, number>();
  for (let i = 0; i < endpoints.length; i++) {
    if (priorities[i]! < 0) continue;
    const g = groups[i]!;
    // A distributed locality keeps the weight `distribute` gave it; otherwise a group
    // weighs what its endpoints weigh (pilot/pkg/xds/endpoints/endpoint_builder.go).
    const w =
      distribute !== null && dropped !== null
        ? localityWeights.get(localities[i]!)!
        : (groupWeights.get(g) ?? 0) + weightOf(endpoints[i]!);
    groupWeights.set(g, w);
  }
  // Envoy's zone-aware routing needs the localities even within a single priority.
  const applies = lb.localityWeighted || (lb.zoneRouting ?? null) !== null || priorities.some((p) => p !== 0);
  return { priorities, groups, groupWeights, applies };
}
