import type { Resource } from '../config/resource.js';
import type { VirtualServiceConflict } from './plan-types.js';
import type { VirtualServiceIn } from './spec-types.js';
import { compareByCreation, isVisibleTo, resolveShortName } from './hosts.js';

/** A VirtualService selected for this sidecar, with its hosts resolved. */
export interface SelectedVirtualService {
  readonly resource: Resource;
  readonly spec: VirtualServiceIn;
  /** Hosts after short-name resolution in the VirtualService's namespace. */
  readonly hosts: readonly string[];
}

/** Does this VirtualService apply to sidecars (`gateways` absent or listing `mesh`)? */
export function appliesToMesh(spec: VirtualServiceIn): boolean {
  return spec.gateways === undefined || spec.gateways.length === 0 || spec.gateways.includes('mesh');
}

/**
 * The VirtualServices a sidecar in `namespace` sees, in Istio's order
 * (push_context.go `initVirtualServices` + `SelectVirtualServices`): those
 * private to the caller's namespace (`exportTo: ["."]` or its own name), then
 * those exported to it by name, then public ones; each group oldest first,
 * then by name and namespace. Delegates (no hosts) are not selected here. `binds`
 * picks the VirtualServices for this proxy: those for the mesh by default, those bound
 * to its Gateways on a gateway (`VirtualServicesForGateway`, the same order).
 */
export function selectVirtualServices(
  resources: readonly Resource[],
  namespace: string,
  binds: (spec: VirtualServiceIn, vsNamespace: string) => boolean = appliesToMesh,
): SelectedVirtualService[] {
  const priv: Resource[] = [];
  const exported: Resource[] = [];
  const pub: Resource[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const spec = r.spec as VirtualServiceIn;
    if ((spec.hosts?.length ?? 0) === 0 || !binds(spec, r.metadata.namespace)) continue;
    const e = spec.exportTo;
    const ns = r.metadata.namespace;
    if (e === undefined || e.length === 0 || e.includes('*')) pub.push(r);
    else if (ns === namespace && e.some((x) => x === '.' || x === ns)) priv.push(r);
    else if (e.includes(namespace)) exported.push(r);
  }
  const ordered = [
    ...priv.sort(compareByCreation),
    ...exported.sort(compareByCreation),
    ...pub.sort(compareByCreation),
  ];
  return ordered.map((r) => {
    const spec = r.spec as VirtualServiceIn;
    return {
      resource: r,
      spec,
      hosts: (spec.hosts ?? []).map((h) => resolveShortName(h, r.metadata.namespace)),
    };
  });
}

/** First VirtualService to claim a host wins; later claims of the same host are recorded as dropped. */
export function findConflicts(selected: readonly SelectedVirtualService[]): VirtualServiceConflict[] {
  const owner = new Map<string, Resource>();
  const out: VirtualServiceConflict[] = [];
  for (const vs of selected) {
    for (const h of new Set(vs.hosts)) {
      const winner = owner.get(h);
      if (winner === undefined) owner.set(h, vs.resource);
      else if (winner !== vs.resource) {
        out.push({
          host: h,
          winner: { namespace: winner.metadata.namespace, name: winner.metadata.name },
          dropped: { namespace: vs.resource.metadata.namespace, name: vs.resource.metadata.name },
        });
      }
    }
  }
  return out;
}

/** Index of every VirtualService (delegates included) by `ns/name`. */
export function indexVirtualServices(resources: readonly Resource[]): Map<string, Resource> {
  const m = new Map<string, Resource>();
  for (const r of resources)
    if (r.kind === 'VirtualService') m.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  return m;
}

/** Whether a delegate VirtualService may be used by a root in `rootNamespace` (its `exportTo`). */
export function delegateVisible(delegate: Resource, rootNamespace: string): boolean {
  const spec = delegate.spec as VirtualServiceIn;
  return isVisibleTo(spec.exportTo, delegate.metadata.namespace, rootNamespace);
}
