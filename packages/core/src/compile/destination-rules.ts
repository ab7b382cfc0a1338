import type { Resource } from '../config/resource.js';
import type { DestinationRuleIn, SubsetIn, TrafficPolicyIn } from './spec-types.js';
import { compareByCreation, hostMatches, isVisibleTo, isWildcard, resolveShortName } from './hosts.js';
import { labelsMatch, type WorkloadIdentity } from './workload.js';

/** The DestinationRules that apply to one host for this workload, merged. */
export interface EffectiveDestinationRule {
  readonly rules: readonly Resource[];
  /** The first rule's top-level `trafficPolicy` (later same-host rules fill it only when it is absent). */
  readonly trafficPolicy: TrafficPolicyIn | undefined;
  /** Subsets concatenated in rule order; the first subset of a name wins. */
  readonly subsets: readonly SubsetIn[];
}

interface Scope {
  readonly exact: Map<string, Resource[]>;
  readonly wildcard: { host: string; rules: Resource[] }[];
}

function merge(rules: readonly Resource[]): EffectiveDestinationRule {
  let trafficPolicy: TrafficPolicyIn | undefined;
  const subsets: SubsetIn[] = [];
  const seen = new Set<string>();
  for (const r of rules) {
    const spec = r.spec as DestinationRuleIn;
    trafficPolicy ??= spec.trafficPolicy;
    for (const s of spec.subsets ?? []) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      subsets.push(s);
    }
  }
  return { rules, trafficPolicy, subsets };
}

/**
 * DestinationRule lookup as istio `PushContext.destinationRule` does it for a
 * sidecar: the caller's namespace first, then the service's namespace, then the
 * root namespace; in each, rules exported to the caller, the most specific host
 * (exact beats wildcard), same-host rules merged in creation order. Rules with a
 * `workloadSelector` only apply to matching workloads of their own namespace
 * and are merged ahead of selector-less ones.
 */
export function createDestinationRuleIndex(
  resources: readonly Resource[],
  workload: WorkloadIdentity,
  rootNamespace: string,
): (hostName: string, serviceNamespace: string) => EffectiveDestinationRule | null {
  const scopes = new Map<string, Scope>();
  const drs = resources.filter((r) => r.kind === 'DestinationRule').sort(compareByCreation);
  const withSelector: Resource[] = [];
  const without: Resource[] = [];
  for (const r of drs) {
    const spec = r.spec as DestinationRuleIn;
    if (!isVisibleTo(spec.exportTo, r.metadata.namespace, workload.namespace)) continue;
    if (spec.workloadSelector !== undefined) {
      if (r.metadata.namespace !== workload.namespace) continue;
      if (!labelsMatch(spec.workloadSelector.matchLabels ?? {}, workload.labels)) continue;
      withSelector.push(r);
    } else without.push(r);
  }
  for (const r of [...withSelector, ...without]) {
    const ns = r.metadata.namespace;
    let scope = scopes.get(ns);
    if (scope === undefined) {
      scope = { exact: new Map(), wildcard: [] };
      scopes.set(ns, scope);
    }
    const h = resolveShortName((r.spec as DestinationRuleIn).host, ns);
    if (isWildcard(h)) {
      const entry = scope.wildcard.find((w) => w.host === h);
      if (entry === undefined) scope.wildcard.push({ host: h, rules: [r] });
      else entry.rules.push(r);
    } else {
      const list = scope.exact.get(h);
      if (list === undefined) scope.exact.set(h, [r]);
      else list.push(r);
    }
  }
  // Most specific wildcard first.
  for (const s of scopes.values()) s.wildcard.sort((a, b) => b.host.length - a.host.length);

  const inScope = (ns: string, hostName: string): readonly Resource[] | null => {
    const scope = scopes.get(ns);
    if (scope === undefined) return null;
    const exact = scope.exact.get(hostName);
    if (exact !== undefined) return exact;
    for (const w of scope.wildcard) if (hostMatches(w.host, hostName)) return w.rules;
    return null;
  };

  const cache = new Map<string, EffectiveDestinationRule | null>();
  return (hostName, serviceNamespace) => {
    const key = `${serviceNamespace}|${hostName}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    // istio: a proxy in the root namespace looks at the service namespace first.
    const order =
      workload.namespace === rootNamespace
        ? [serviceNamespace, rootNamespace]
        : [workload.namespace, serviceNamespace, rootNamespace];
    let result: EffectiveDestinationRule | null = null;
    for (const ns of order) {
      const rules = inScope(ns, hostName);
      if (rules !== null) {
        result = merge(rules);
        break;
      }
    }
    cache.set(key, result);
    return result;
  };
}
