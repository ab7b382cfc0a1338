import type { ConfigSnapshot } from '../config/snapshot.js';

/** istio pkg/kube/inject/initializer.go `IgnoredNamespaces`. */
const IGNORED_NAMESPACES: ReadonlySet<string> = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'local-path-storage',
]);

function ignored(kind: string, metadata: { namespace: string; name: string }): boolean {
  return IGNORED_NAMESPACES.has(kind === 'Namespace' ? metadata.name : metadata.namespace);
}

/**
 * The snapshot as istioctl's analyzers see it: istioctl's file source drops every
 * object in (and every Namespace named) kube-system, kube-public, kube-node-lease
 * or local-path-storage before any analyzer runs (istio
 * pkg/config/analysis/local/istiod_analyze.go, SetNamespacesFilter).
 */
export function withoutIgnoredNamespaces(snapshot: ConfigSnapshot): ConfigSnapshot {
  return {
    ...snapshot,
    resources: snapshot.resources.filter((r) => !ignored(r.kind, r.metadata)),
    invalid: snapshot.invalid.filter((r) => !ignored(r.kind, r.metadata)),
    platform: snapshot.platform.filter((p) => !ignored(p.kind, p.metadata)),
  };
}
