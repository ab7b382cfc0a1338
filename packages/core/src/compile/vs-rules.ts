import type { Resource } from '../config/resource.js';
import type { CompiledRoute } from './plan-types.js';
import { compileRoute, type RouteContext } from './compile-route.js';
import type { HTTPRouteIn, VirtualServiceIn } from './spec-types.js';
import { mergeHTTPRoute } from './delegate.js';
import { delegateVisible, type SelectedVirtualService } from './vs-selection.js';

/** One `http` rule of a VirtualService, with the id and namespace it compiles under. */
export interface Expanded {
  readonly rule: HTTPRouteIn;
  readonly id: string;
  readonly namespace: string;
  readonly delegate: CompiledRoute['delegate'];
}

/** A VirtualService's http rules with one level of `delegate` merged in. */
export function expandRules(vs: SelectedVirtualService, byName: Map<string, Resource>): Expanded[] {
  const ns = vs.resource.metadata.namespace;
  const base = `${ns}/${vs.resource.metadata.name}`;
  const out: Expanded[] = [];
  (vs.spec.http ?? []).forEach((rule, i) => {
    if (rule.delegate === undefined) {
      out.push({ rule, id: `${base}/${rule.name ?? i}`, namespace: ns, delegate: null });
      return;
    }
    const dns = rule.delegate.namespace ?? ns;
    const target = byName.get(`${dns}/${rule.delegate.name ?? ''}`);
    // A missing or invisible delegate contributes no routes (istio mergeVirtualServicesIfNeeded).
    if (target === undefined || !delegateVisible(target, ns)) return;
    const leafSpec = target.spec as VirtualServiceIn;
    (leafSpec.http ?? []).forEach((leaf, j) => {
      if (leaf.delegate !== undefined) return; // one level only
      const merged = mergeHTTPRoute(rule, leaf);
      if (merged === null) return;
      out.push({
        rule: merged,
        id: `${base}/${merged.name ?? `${i}.${j}`}`,
        namespace: dns,
        delegate: { namespace: dns, name: target.metadata.name },
      });
    });
  });
  return out;
}

/** A compiled rule and whether istiod counts it as catch-all (route.go `IsCatchAllRoute`). */
export interface RuleRoute {
  readonly route: CompiledRoute;
  /** No match, or a first match on `/` with no header or query condition. */
  readonly catchAll: boolean;
}

/**
 * Compiles a VirtualService's expanded rules in order for one virtual host, stopping
 * after the first catch-all rule, as istiod stops translating there (route.go
 * BuildHTTPRoutesForVirtualService).
 */
export function compileRules(
  vs: SelectedVirtualService,
  rules: readonly Expanded[],
  ctxFor: (ns: string) => RouteContext,
): RuleRoute[] {
  const owner = { namespace: vs.resource.metadata.namespace, name: vs.resource.metadata.name };
  const out: RuleRoute[] = [];
  for (const e of rules) {
    const r = compileRoute(
      e.rule,
      e.id,
      { virtualService: owner, delegate: e.delegate },
      ctxFor(e.namespace),
    );
    if (r === null) continue;
    const first = r.route.matches[0] as { readonly catchAll?: boolean } | undefined;
    // compileMatch marks the entries istio's `isCatchAllMatch` would (match.ts).
    out.push({ route: r.route, catchAll: first === undefined || first.catchAll === true });
    if (r.catchAll) break;
  }
  return out;
}
