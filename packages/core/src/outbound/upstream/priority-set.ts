import { splitLocality, type Locality } from '../../compile/locality.js';
import type { LocalityAssignment } from '../../compile/locality-priority.js';
import type { LoadBalancerPolicy } from '../../compile/traffic-policy.js';
import type { Random } from '../../runtime/random.js';
import { createKeyHasher, type HashKey } from './hash.js';
import { EdfScheduler } from './edf-scheduler.js';
import type { HostState } from './host-state.js';
import { createPicker } from './load-balancer.js';
import type { HostPicker, SkipHost } from './picker.js';
import type { ZoneRouting } from '../../compile/locality-lb.js';
import { chooseZone, zoneRoutingState, type ZoneRoutingState } from './zone-aware.js';

/** Envoy's default `overprovisioning_factor` (140%); Istio does not set it. */
const OVERPROVISIONING = 140;

interface Group {
  readonly locality: Locality;
  readonly weight: number;
  readonly hosts: HostState[];
  healthy: HostState[];
}

interface Level {
  readonly hosts: HostState[];
  healthy: HostState[];
  /** Envoy's order (see `envoyLocalityOrder`). */
  groups: Group[];
  panic: boolean;
  localities: EdfScheduler<Group> | null;
  /** The consistent-hash ring's hosts and weights when locality weights fold into it. */
  ring: WeightedHosts | null;
}

interface Pick {
  readonly hosts: readonly HostState[];
  readonly picker: HostPicker;
  readonly weights: readonly number[] | null;
}

/** A locality's hosts and weight, as `localityWeightedHosts` reads them. */
export interface LocalityHosts {
  readonly weight: number;
  readonly hosts: readonly HostState[];
  readonly healthy: readonly HostState[];
}

/** Hosts with their normalized weights (same index). */
export interface WeightedHosts {
  readonly hosts: readonly HostState[];
  readonly weights: readonly number[];
}

/**
 * The hosts of one priority and their ring weights with locality weights folded in, as
 * Envoy's ring hash and Maglev build them under `locality_weighted_lb_config` (envoy
 * thread_aware_lb_impl.cc normalizeLocalityWeights / normalizeHostWeights): a host's weight
 * over its locality's host weight sum, times its locality's weight over the sum of all the
 * priority's locality weights. Healthy hosts only unless the priority is in panic; a
 * locality of weight 0 is left out, and one without healthy hosts still counts in the sum
 * (the weights then add up to less than 1, a smaller ring, as in Envoy). The raw locality
 * weights are used, not scaled by availability (Envoy's TODO there).
 */
export function localityWeightedHosts(groups: readonly LocalityHosts[], panic: boolean): WeightedHosts {
  const hosts: HostState[] = [];
  const weights: number[] = [];
  let sum = 0;
  for (const g of groups) sum += g.weight;
  if (sum === 0) return { hosts, weights };
  for (const g of groups) {
    if (g.weight === 0) continue;
    const share = g.weight / sum;
    const members = panic ? g.hosts : g.healthy;
    let hostSum = 0;
    for (const h of members) hostSum += h.weight;
    for (const h of members) {
      hosts.push(h);
      weights.push((h.weight * share) / hostSum);
    }
  }
  return { hosts, weights };
}

/** Byte-wise string order, as C++ `std::string` compares (UTF-8). */
function compareBytes(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** envoy locality.h `LocalityLess`: region, then zone, then sub_zone. */
function compareLocalities(a: Locality, b: Locality): number {
  return (
    compareBytes(a.region, b.region) || compareBytes(a.zone, b.zone) || compareBytes(a.subzone, b.subzone)
  );
}

/**
 * A priority's localities in Envoy's order (envoy upstream_impl.cc
 * `PriorityStateManager::updateClusterPrioritySet`): the proxy's own locality first when the
 * priority has hosts there, then the others by `LocalityLess`. The locality-weighted ring
 * and the locality scheduler take them in this order. (A proxy without a locality sorts the
 * same: the empty locality comes first either way.)
 */
function envoyLocalityOrder(groups: Iterable<Group>, proxy: Locality): Group[] {
  const isLocal = (g: Group): boolean => compareLocalities(g.locality, proxy) === 0;
  return [...groups].sort(
    (a, b) => Number(isLocal(b)) - Number(isLocal(a)) || compareLocalities(a.locality, b.locality),
  );
}

const localityString = (l: Locality): string => `${l.region}/${l.zone}/${l.subzone}`;

/** A group's weight scaled by its availability (envoy upstream_impl.cc `effectiveLocalityWeight`). */
function effectiveWeight(g: Group): number {
  return g.weight * Math.min(1, ((OVERPROVISIONING / 100) * g.healthy.length) / g.hosts.length);
}

/**
 * The hosts of one cluster split by Envoy priority (istiod's locality ranking,
 * compile/locality-priority.ts), with Envoy's choice among them (envoy
 * load_balancer_impl.cc): each priority's health is `min(100, 140 × healthy / hosts)`; load
 * goes to the first priorities until their health adds up to 100
 * (`recalculatePerPriorityState`, `distributeLoad`); a priority whose healthy share is
 * under the panic threshold uses all its hosts unless the total is 100
 * (`recalculatePerPriorityPanic`); all in panic splits load by host count
 * (`recalculateLoadInTotalPanic`). A request draws `1..100` against the cumulative loads
 * (`choosePriority`; its hash key for consistent hashing, as thread_aware_lb_impl.cc does).
 * With locality weighting a locality of that priority is then chosen by EDF on its
 * availability-scaled weight; the cluster's LB policy picks the host. State is rebuilt only
 * when the hosts or their ejections change.
 */
export class PrioritySet {
  readonly #levels: Level[] = [];
  readonly #loads: number[] = [];
  readonly #policy: LoadBalancerPolicy;
  readonly #random: Random;
  readonly #localityWeighted: boolean;
  /** Consistent hashing with locality weights: one ring per priority, weights folded in. */
  readonly #foldLocalityWeights: boolean;
  readonly #pickers = new Map<object, HostPicker>();
  readonly #hash = createKeyHasher();
  /** Envoy's zone-aware routing (zone-aware.ts); null when it cannot apply. */
  readonly #zoneRouting: ZoneRouting | null;
  readonly #proxyLocality: string;
  #zone: ZoneRoutingState = { kind: 'none' };
  #version = -1;
  #rebuilds = 0;

  /** `proxyLocality`: the caller's own `region/zone/subzone` (`ClusterLocalityLb.proxy`). */
  constructor(
    hosts: readonly HostState[],
    proxyLocality: string,
    assignment: LocalityAssignment,
    localityWeighted: boolean,
    policy: LoadBalancerPolicy,
    random: Random,
    zoneRouting: ZoneRouting | null = null,
  ) {
    this.#policy = policy;
    this.#proxyLocality = proxyLocality;
    // Ring hash and Maglev are not zone-aware balancers (thread_aware_lb_impl.h derives from
    // LoadBalancerBase); locality weighting takes precedence in hostSourceToUse.
    this.#zoneRouting = policy.consistentHash === null && !localityWeighted ? zoneRouting : null;
    this.#random = random;
    // Consistent hashing keeps one ring per priority (thread_aware_lb_impl.cc) and folds the
    // locality weights into its host weights instead of choosing a locality first.
    this.#localityWeighted = localityWeighted && policy.consistentHash === null;
    this.#foldLocalityWeights = localityWeighted && policy.consistentHash !== null;
    const groups: Map<string, Group>[] = [];
    // The hosts of a priority as Envoy holds them, in the ClusterLoadAssignment's order:
    // istiod lists the localities by their label string (pilot/pkg/xds/endpoints/
    // endpoint_builder.go `generate`, sort.Strings), a locality's endpoints as found.
    const byLabel = hosts
      .map((h, i) => ({ h, i, label: h.endpoint.locality ?? '' }))
      .sort((a, b) => compareBytes(a.label, b.label) || a.i - b.i);
    for (const { h, i } of byLabel) {
      const p = assignment.priorities[i]!;
      if (p < 0) continue;
      while (this.#levels.length <= p) {
        this.#levels.push({ hosts: [], healthy: [], groups: [], panic: false, localities: null, ring: null });
        groups.push(new Map());
      }
      this.#levels[p]!.hosts.push(h);
      const key = assignment.groups[i]!;
      let g = groups[p]!.get(key);
      if (g === undefined) {
        g = {
          locality: splitLocality(h.endpoint.locality ?? ''),
          weight: assignment.groupWeights.get(key) ?? 1,
          hosts: [],
          healthy: [],
        };
        groups[p]!.set(key, g);
      }
      g.hosts.push(h);
    }
    const proxy = splitLocality(proxyLocality);
    this.#levels.forEach((level, p) => (level.groups = envoyLocalityOrder(groups[p]!.values(), proxy)));
  }

  /** How many priorities there are (tests, `/clusters`). */
  get levels(): number {
    return this.#levels.length;
  }

  /** The current load per priority, percent, summing to 100 (tests). */
  loads(version: number, panicThreshold: number): readonly number[] {
    this.#refresh(version, panicThreshold);
    return this.#loads;
  }

  pick(
    version: number,
    panicThreshold: number,
    exclude: ReadonlySet<string>,
    hashKey: HashKey,
  ): HostState | null {
    this.#refresh(version, panicThreshold);
    if (this.#levels.length === 0) return null;
    const chosen = this.#choose(hashKey);
    if (chosen === null || chosen.hosts.length === 0) return null;
    const hosts = chosen.hosts;
    let skip: SkipHost = null;
    if (exclude.size > 0 && hosts.some((h) => !exclude.has(h.id))) skip = (h) => exclude.has(h.id);
    return chosen.picker.pick(hosts, this.#rebuilds, skip, hashKey, chosen.weights);
  }

  #choose(hashKey: HashKey): Pick | null {
    let draw: number;
    if (hashKey !== null && this.#policy.consistentHash !== null) {
      // A 64-bit hash mod 100: (hi × 2^32 + lo) mod 100, with 2^32 ≡ 96 (mod 100).
      const h = this.#hash(hashKey);
      draw = ((h.hi % 100) * 96 + (h.lo % 100)) % 100;
    } else draw = Math.floor(this.#random.next() * 100);
    const target = draw + 1;
    let sum = 0;
    let p = 0;
    for (; p < this.#loads.length; p++) {
      sum += this.#loads[p]!;
      if (target <= sum) break;
    }
    const index = Math.min(p, this.#levels.length - 1);
    const level = this.#levels[index]!;
    if (level.ring !== null) return this.#source(level, level.ring.hosts, level.ring.weights);
    if (level.panic) return this.#source(level, level.hosts);
    if (level.localities !== null) {
      const g = level.localities.pick(effectiveWeight, null);
      if (g !== null) return this.#source(g, g.healthy);
    }
    // Zone-aware routing is for priority 0 only (load_balancer_impl.cc).
    if (index === 0 && this.#zone.kind !== 'none') {
      const g = level.groups[chooseZone(this.#zone, this.#random)];
      if (g !== undefined && g.healthy.length > 0) return this.#source(g, g.healthy);
    }
    return this.#source(level, level.healthy);
  }

  #source(owner: Level | Group, hosts: readonly HostState[], weights: readonly number[] | null = null): Pick {
    let picker = this.#pickers.get(owner);
    if (picker === undefined) {
      picker = createPicker(this.#policy, this.#random);
      this.#pickers.set(owner, picker);
    }
    return { hosts, picker, weights };
  }

  #refresh(version: number, panicThreshold: number): void {
    if (version === this.#version) return;
    this.#version = version;
    this.#rebuilds++;
    this.#zone = { kind: 'none' };
    const health: number[] = [];
    for (const level of this.#levels) {
      level.healthy = level.hosts.filter((h) => !h.ejected);
      for (const g of level.groups) g.healthy = g.hosts.filter((h) => !h.ejected);
      health.push(Math.min(100, Math.floor((OVERPROVISIONING * level.healthy.length) / level.hosts.length)));
      level.panic = false;
      level.localities = null;
      level.ring = null;
    }
    const n = this.#levels.length;
    this.#loads.length = 0;
    for (let i = 0; i < n; i++) this.#loads.push(0);
    if (n === 0) return;
    const threshold = Math.min(100, panicThreshold);
    const total = Math.min(
      100,
      health.reduce((a, b) => a + b, 0),
    );
    if (total === 0 && threshold === 0) {
      // No healthy host and panic disabled: nothing is picked (503 UH).
      this.#loads[0] = 100;
      return;
    }
    let remaining = 100;
    let first = -1;
    if (total > 0) {
      for (let i = 0; i < n; i++) {
        const load = Math.min(remaining, Math.floor((health[i]! * 100) / total));
        this.#loads[i] = load;
        remaining -= load;
        if (load > 0 && first === -1) first = i;
      }
      if (remaining > 0 && first !== -1) this.#loads[first]! += remaining;
    }
    let allPanic = true;
    for (const level of this.#levels) {
      level.panic = total === 100 ? false : (100 * level.healthy.length) / level.hosts.length < threshold;
      allPanic &&= level.panic;
    }
    if (allPanic) this.#loadInTotalPanic();
    const p0 = this.#levels[0]!;
    this.#zone =
      this.#zoneRouting === null
        ? { kind: 'none' }
        : zoneRoutingState(
            p0.groups.map((g) => ({ locality: localityString(g.locality), healthy: g.healthy.length })),
            this.#proxyLocality,
            this.#zoneRouting.localCluster,
            this.#zoneRouting.minClusterSize,
          );
    if (this.#foldLocalityWeights)
      for (const level of this.#levels) level.ring = localityWeightedHosts(level.groups, level.panic);
    if (!this.#localityWeighted) return;
    for (const level of this.#levels) {
      const groups = level.groups.filter((g) => effectiveWeight(g) > 0);
      if (groups.length > 0)
        level.localities = new EdfScheduler(
          groups,
          effectiveWeight,
          Math.floor(this.#random.next() * groups.length),
        );
    }
  }

  /** envoy `recalculateLoadInTotalPanic`: load by host count, the rest to priority 0. */
  #loadInTotalPanic(): void {
    const all = this.#levels.reduce((a, l) => a + l.hosts.length, 0);
    let remaining = 100;
    this.#levels.forEach((l, i) => {
      const load = Math.floor((100 * l.hosts.length) / all);
      this.#loads[i] = load;
      remaining -= load;
    });
    this.#loads[0]! += remaining;
  }
}
