/**
 * Host-name helpers with Istio's semantics (istio pkg/config/host/name.go,
 * pkg/config/analysis/analyzers/util/hosts.go).
 */

/** Istio's `util.DefaultClusterLocalDomain`: analyzers assume the default cluster domain. */
export const CLUSTER_LOCAL_SUFFIX = 'svc.cluster.local';

/** `host.Name.Matches`: wildcard-aware match in either direction. */
export function hostMatches(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild)
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aWild) return b.endsWith(a.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** `ConvertHostToFQDN`: a short name (no dot, no wildcard) gets `.<ns>.svc.cluster.local`. */
export function hostToFqdn(namespace: string, host: string): string {
  return host.startsWith('*') || host.includes('.') ? host : `${host}.${namespace}.${CLUSTER_LOCAL_SUFFIX}`;
}

/** `GetFullNameFromFQDN`: `name.ns.svc.cluster.local` -> { namespace, name }, else null. */
export function fullNameFromFqdn(fqdn: string): { namespace: string; name: string } | null {
  // Istio's regex `^(.+)\.(.+)\.svc\.cluster\.local$` is greedy: the namespace is the last label.
  const m = /^(.+)\.(.+)\.svc\.cluster\.local$/.exec(fqdn);
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  return { namespace: m[2], name: m[1] };
}

/** `GetResourceNameFromHost`: the namespace/name a destination host refers to. */
export function resourceNameFromHost(defaultNamespace: string, host: string): string {
  const full = fullNameFromFqdn(host);
  return full === null ? `${defaultNamespace}/${host}` : `${full.namespace}/${full.name}`;
}

/** A host qualified by the namespace scope it is visible in: `<scope>/<fqdn>`. */
export function scopedFqdn(scope: string, namespace: string, host: string): string {
  return `${scope}/${hostToFqdn(namespace, host)}`;
}

export function splitScopedFqdn(s: string): { scope: string; fqdn: string } {
  const i = s.indexOf('/');
  return { scope: s.slice(0, i), fqdn: s.slice(i + 1) };
}

/** `host.NamesForNamespace`: gateway `ns/host` entries visible from `namespace`, namespace stripped. */
export function namesForNamespace(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const i = h.indexOf('/');
    if (i < 0) {
      out.push(h);
      continue;
    }
    const ns = h.slice(0, i);
    if (ns !== namespace && ns !== '*') continue;
    out.push(h.slice(i + 1));
  }
  return out;
}

/** `IsExportToAllNamespaces`: empty exportTo or one containing `*`. */
export function exportsToAll(exportTo: readonly string[]): boolean {
  return exportTo.length === 0 || exportTo.includes('*');
}
