import type { Resource } from '../config/resource.js';
import type { CompiledRoute } from './plan-types.js';
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
