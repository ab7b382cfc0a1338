import { isIpAddress } from '../config/validate/names.js';
import type { Resource } from '../config/resource.js';

/** Kubernetes cluster DNS suffix Istio appends to short names (`domainSuffix`). */
export const DOMAIN_SUFFIX = 'cluster.local';

/**
 * Istio's `ResolveShortnameToFQDN`: a dot-free host that is not `*` or an IP
 * becomes `<host>.<namespace>.svc.cluster.local`, using the namespace of the
 * rule that names it. Dotted names (`reviews.default`) stay literal.
 */
export function resolveShortName(hostName: string, namespace: string): string {
  const h = hostName.toLowerCase();
  if (h === '*' || h.includes('.') || isIpAddress(h)) return h;
  return `${h}.${namespace}.svc.${DOMAIN_SUFFIX}`;
}

export function isWildcard(hostName: string): boolean {
  return hostName.startsWith('*');
}

/**
 * istio `host.Name.Matches`: does `hostName` (a concrete or wildcard host)
 * fall under `pattern`? `*.foo.com` matches `a.foo.com` and `a.b.foo.com`,
 * not `foo.com`; `*` matches everything.
 */
export function hostMatches(pattern: string, hostName: string): boolean {
  if (pattern === '*') return true;
  if (!isWildcard(pattern)) return pattern === hostName;
  const suffix = pattern.slice(1);
  if (isWildcard(hostName)) return hostName.slice(1).endsWith(suffix);
  return hostName.length > suffix.length && hostName.endsWith(suffix);
}

/**
 * Picks the most specific of `patterns` matching `hostName` (istio
 * `MostSpecificHostMatch`): an exact host, else the longest wildcard.
 * Returns the index or -1.
 */
export function mostSpecificMatch(hostName: string, patterns: readonly string[]): number {
  let best = -1;
  let bestLen = -1;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i] as string;
    if (p === hostName) return i;
    if (isWildcard(p) && hostMatches(p, hostName) && p.length > bestLen) {
      best = i;
      bestLen = p.length;
    }
  }
  return best;
}

/**
 * `exportTo` visibility (istio `visibility`): absent or `*` = every namespace,
 * `.` = the resource's own namespace, `~` = none, otherwise a namespace list.
 */
export function isVisibleTo(
  exportTo: readonly string[] | undefined,
  ownNamespace: string,
  namespace: string,
): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && ownNamespace === namespace) return true;
    if (e === namespace) return true;
  }
  return false;
}

/**
 * Istio's `sortConfigByCreationTime`: oldest first, then name, then namespace.
 * A resource without a timestamp counts as newer than any dated one; undated
 * ones tie (as in `istioctl analyze` on files, where every timestamp is zero)
 * and fall to name, namespace, then load order.
 */
export function compareByCreation(a: Resource, b: Resource): number {
  const t = byTimestamp(a, b);
  if (t !== 0) return t;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  if (a.metadata.namespace !== b.metadata.namespace)
    return a.metadata.namespace < b.metadata.namespace ? -1 : 1;
  return a.origin.index - b.origin.index;
}

/**
 * Oldest creationTimestamp first, then load order: the tie rule Istio's
 * security policies use (`ComposePeerAuthentication` keeps the first seen).
 */
export function compareByAge(a: Resource, b: Resource): number {
  return byTimestamp(a, b) || a.origin.index - b.origin.index;
}

/** Older creationTimestamp first; an undated resource counts as newer than any dated one. */
function byTimestamp(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  if (ta === tb) return 0;
  if (ta === null) return 1;
  if (tb === null) return -1;
  return ta - tb;
}

/** `ns/name` for messages and ids. */
export function refOf(r: Resource): string {
  return `${r.metadata.namespace}/${r.metadata.name}`;
}
