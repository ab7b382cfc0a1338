import type { AnalysisContext } from './context.js';
import { scopedFqdn, splitScopedFqdn } from './hosts.js';
import type { Labels } from './labels.js';
import { arr, num, obj, strList, strMap } from './read.js';

/** What a destination host resolves to: a ServiceEntry, or a Service seen as one. */
export interface ServiceEntryView {
  readonly ports: readonly number[];
  readonly workloadSelector: Labels;
}

/** `<scope>/<fqdn>` -> service, scope `*` for every namespace (istio util.InitServiceEntryHostMap). */
export type ServiceHostMap = ReadonlyMap<string, ServiceEntryView>;

/** Which namespaces a Service is visible in, from `networking.istio.io/exportTo`. */
function serviceScopes(annotation: string | undefined, namespace: string): string[] {
  if (annotation === undefined || annotation === '') return ['*'];
  return annotation.split(',').map((s) => {
    const ns = s.trim();
    return ns === '.' ? namespace : ns;
  });
}

/**
 * Hosts of ServiceEntries (per their `exportTo`) and of Kubernetes Services
 * (per the `networking.istio.io/exportTo` annotation), keyed by scoped FQDN.
 */
export function serviceHostMap(ctx: AnalysisContext): ServiceHostMap {
  const out = new Map<string, ServiceEntryView>();
  for (const r of ctx.byKind('ServiceEntry')) {
    const spec = obj(r.spec);
    const ns = r.metadata.namespace;
    const se: ServiceEntryView = {
      ports: arr(spec['ports']).map((p) => num(obj(p)['number'])),
      workloadSelector: strMap(obj(spec['workloadSelector'])['labels']),
    };
    const exportTo = strList(spec['exportTo']);
    // Istio's flag survives across hosts once a `*` is seen; kept for identical results.
    let toAll = false;
    for (const h of strList(spec['hosts'])) {
      if (exportTo.length === 0 || toAll) {
        out.set(scopedFqdn('*', ns, h), se);
        continue;
      }
      for (const e of exportTo) {
        if (e === '*') {
          out.set(scopedFqdn('*', ns, h), se);
          toAll = true;
          break;
        }
        out.set(scopedFqdn(e === '.' ? ns : e, ns, h), se);
      }
    }
  }
  for (const s of ctx.services) {
    const se: ServiceEntryView = { ports: s.ports.map((p) => p.port), workloadSelector: {} };
    for (const scope of serviceScopes(s.annotations['networking.istio.io/exportTo'], s.namespace)) {
      out.set(scopedFqdn(scope, s.namespace, s.name), se);
    }
  }
  return out;
}

/**
 * istio `util.GetDestinationHost`: the service a host refers to from `sourceNs`
 * (whose resource has `exportTo`), or null when none is visible.
 */
export function destinationHost(
  sourceNs: string,
  exportTo: readonly string[],
  host: string,
  hosts: ServiceHostMap,
): ServiceEntryView | null {
  const all = hosts.get(scopedFqdn('*', sourceNs, host));
  if (all !== undefined) return all;
  const scopes = exportTo.length === 0 ? [sourceNs] : exportTo.map((e) => (e === '.' ? sourceNs : e));
  for (const scope of scopes) {
    const s = hosts.get(scopedFqdn(scope, sourceNs, host));
    if (s !== undefined) return s;
  }
  const bare = host.startsWith('*') ? host.slice(1) : host;
  for (const [key, s] of hosts) {
    const { scope, fqdn } = splitScopedFqdn(key);
    if (!fqdn.startsWith('*')) continue;
    if (scope !== '*' && scope !== sourceNs) continue;
    if (bare.endsWith(fqdn.slice(1))) return s;
  }
  return null;
}
